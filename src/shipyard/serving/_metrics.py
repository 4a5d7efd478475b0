"""``/metrics``: the scoring server's Prometheus metrics, in a registry of its own.

Each worker process keeps its own numbers (scrape each replica/worker, or run one worker per
container as is usual behind Kubernetes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["ServingMetrics"]

_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_ROW_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 1024, 4096, 16384, 65536)


class _Callbacks(Collector):
    """Counters owned by other objects (the log writer, the follower), read at scrape time."""

    def __init__(self) -> None:
        self.sources: dict[str, tuple[str, Callable[[], float]]] = {}

    def collect(self) -> Iterator[Metric]:
        for name, (doc, read) in self.sources.items():
            family = CounterMetricFamily(name, doc)
            family.add_metric([], read())
            yield family


class ServingMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "shipyard_serving_requests", "Scoring requests.", ["endpoint", "status"], registry=r
        )
        self.errors = Counter(
            "shipyard_serving_errors", "Failed scoring requests.", ["endpoint", "kind"], registry=r
        )
        self.latency = Histogram(
            "shipyard_serving_request_latency_seconds", "Scoring latency (body read to answer).",
            ["endpoint"], buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.rows = Histogram(
            "shipyard_serving_batch_rows", "Rows per scoring request.", ["endpoint"],
            buckets=_ROW_BUCKETS, registry=r,
        )  # fmt: skip
        self.micro_batch = Histogram(
            "shipyard_serving_micro_batch_requests", "Requests merged into one predict() call.",
            buckets=_ROW_BUCKETS, registry=r,
        )  # fmt: skip
        self.model = Gauge(
            "shipyard_serving_model_info", "The model version being served (value 1).",
            ["name", "version"], registry=r,
        )  # fmt: skip
        self._callbacks = _Callbacks()
        r.register(self._callbacks)
        self._children: dict[tuple[str, str], tuple[Counter, Histogram, Histogram]] = {}

    def add_counter(self, name: str, doc: str, read: Callable[[], float]) -> None:
        self._callbacks.sources[name] = (doc, read)

    def serving(self, name: str, version: str, previous: tuple[str, str] | None = None) -> None:
        if previous is not None:
            self.model.remove(*previous)
        self.model.labels(name, version).set(1)

    def observe(self, endpoint: str, status: int, seconds: float, rows: int) -> None:
        """One answered request (labels resolved once per endpoint/status: ~1 us)."""
        key = (endpoint, str(status))
        children = self._children.get(key)
        if children is None:
            children = (
                self.requests.labels(endpoint, str(status)),
                self.latency.labels(endpoint),
                self.rows.labels(endpoint),
            )  # type: ignore[assignment]
            self._children[key] = children  # type: ignore[assignment]
        counter, latency, rows_hist = children  # type: ignore[misc]
        counter.inc()
        latency.observe(seconds)
        if rows:
            rows_hist.observe(rows)
        if status >= 400:
            self.errors.labels(endpoint, "client" if status < 500 else "server").inc()
