"""The workloads: the same REST calls, in the same order, against every server.

Each workload function takes a port, the sizes and a repeat count, and returns a
`Measured`: one sample per measured operation (per-operation workloads) or per repeat
(aggregate workloads). Every loop is bounded by a count.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from _client import Api, JsonDict, metric, now_ms


@dataclass(frozen=True)
class Sizes:
    batch_points: int = 1000
    batch_calls: int = 20  # log-batch calls per repeat
    latency_calls: int = 500  # log-metric calls per repeat
    create_runs: int = 50  # runs per repeat
    search_runs: int = 5000
    search_queries: int = 20  # per repeat
    page_size: int = 1000
    history_points: int = 100_000
    history_page: int = 25_000  # what MLflow's client asks for per page
    big_runs: int = 100_000
    seed_threads: int = 4
    warmup: int = 5


FULL = Sizes()
QUICK = Sizes(
    batch_calls=5,
    latency_calls=100,
    create_runs=10,
    search_runs=500,
    search_queries=5,
    page_size=100,
    history_points=10_000,
    history_page=2_500,
    big_runs=2_000,
    warmup=2,
)

SEARCH_FILTER = "metrics.acc > 0.5 AND params.model = 'rf'"
SEARCH_ORDER = ["metrics.acc DESC"]
MODELS = ("rf", "xgb", "lr", "svm")


@dataclass
class Measured:
    samples: list[float]
    p99: float | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Workload:
    key: str
    title: str
    unit: str
    higher_is_better: bool
    has_p99: bool
    run: Callable[[int, Sizes, int], Measured]


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# --------------------------------------------------------------------------- payloads


def run_data(i: int, rng: random.Random) -> JsonDict:
    """10 params, 10 metrics, 5 tags for run number i; `model` and `acc` drive the search."""
    ts = now_ms()
    params = [{"key": "model", "value": MODELS[i % len(MODELS)]}]
    params += [{"key": f"p{j}", "value": str(rng.randint(0, 1000))} for j in range(1, 10)]
    metrics = [metric("acc", rng.random(), 0, ts), metric("loss", rng.random() * 10, 0, ts)]
    metrics += [metric(f"m{j}", rng.gauss(0, 1), 0, ts) for j in range(2, 10)]
    tags = [{"key": "team", "value": f"team-{i % 7}"}, {"key": "env", "value": "bench"}]
    tags += [{"key": f"t{j}", "value": f"v{rng.randint(0, 99)}"} for j in range(2, 5)]
    return {"params": params, "metrics": metrics, "tags": tags}


def create_full_run(api: Api, exp_id: str, i: int, rng: random.Random, finish: bool) -> str:
    run_id = api.create_run(exp_id, f"run-{i}")
    api.log_batch(run_id, **run_data(i, rng))
    if finish:
        api.finish_run(run_id)
    return run_id


def seed_runs(port: int, exp_id: str, count: int, threads: int, finish: bool = True) -> None:
    """Create `count` runs with data, split over `threads` keep-alive connections."""
    bounds = [(count * t // threads, count * (t + 1) // threads) for t in range(threads)]

    def worker(lo: int, hi: int) -> None:
        api, rng = Api(port), random.Random(lo)
        try:
            for i in range(lo, hi):
                create_full_run(api, exp_id, i, rng, finish)
        finally:
            api.close()

    with ThreadPoolExecutor(max_workers=threads) as pool:
        for future in [pool.submit(worker, lo, hi) for lo, hi in bounds]:
            future.result()


def _setup(port: int, name: str) -> tuple[Api, str]:
    api = Api(port)
    exp_id = api.create_experiment(f"{name}-{time.time_ns()}")
    return api, exp_id


# --------------------------------------------------------------------------- 1. log-batch


def wl_log_batch(port: int, sizes: Sizes, repeat: int) -> Measured:
    """The request alone is timed: the client builds and JSON-encodes each batch first (with
    Python's ``json``, ~0.8 ms for 1,000 points, the same for every server). Runs before Z
    timed both; the note gives that figure too."""
    api, exp_id = _setup(port, "log-batch")
    run_id = api.create_run(exp_id, "log-batch")
    step = 0
    prepare: list[float] = []

    def batch() -> float:
        nonlocal step
        start = time.perf_counter()
        ts = now_ms()
        points = [metric(f"k{j % 10}", j * 0.5, step + j, ts) for j in range(sizes.batch_points)]
        step += sizes.batch_points
        data = api.log_batch_body(run_id, metrics=points)
        sent = time.perf_counter()
        api.post_encoded("runs/log-batch", data)
        prepare.append(sent - start)
        return time.perf_counter() - sent

    for _ in range(sizes.warmup):
        batch()
    prepare.clear()
    seconds = [batch() for _ in range(repeat * sizes.batch_calls)]
    api.close()
    rates = [sizes.batch_points / s for s in seconds]
    with_client = [sizes.batch_points / (s + p) for s, p in zip(seconds, prepare, strict=True)]
    notes = [
        f"the client's building and encoding of a batch: {statistics.median(prepare) * 1e3:.2f}"
        f" ms (not timed); with it {statistics.median(with_client):,.0f} points/s"
    ]
    return Measured(rates, notes=notes)


# --------------------------------------------------------------------------- 2. log-metric


def wl_log_metric(
    port: int, sizes: Sizes, repeat: int, fresh: bool | None = None, wire: bool = False
) -> Measured:
    api, exp_id = _setup(port, "log-metric")
    run_id = api.create_run(exp_id, "log-metric")
    api.fresh = api.fresh if fresh is None else fresh
    if wire:
        api.close()
        api = Api(port, wire=True)
    step = 0

    def one() -> None:
        nonlocal step
        step += 1
        api.log_metric(run_id, "latency", step * 0.1, step)

    for _ in range(sizes.warmup * 10):
        one()
    ms = [timed(one) * 1000 for _ in range(repeat * sizes.latency_calls)]
    api.close()
    return Measured(ms, p99=percentile(ms, 99))


# --------------------------------------------------------------------------- 3. create runs


def wl_create_runs(port: int, sizes: Sizes, repeat: int) -> Measured:
    api, exp_id = _setup(port, "create-runs")
    rng = random.Random(3)
    for i in range(sizes.warmup):
        create_full_run(api, exp_id, i, rng, finish=True)

    def block() -> None:
        for i in range(sizes.create_runs):
            create_full_run(api, exp_id, i, rng, finish=True)

    rates = [sizes.create_runs / timed(block) for _ in range(repeat)]
    api.close()
    return Measured(rates)


# --------------------------------------------------------------------------- 4 + 5. search


class SearchFixture:
    """One experiment with `search_runs` runs, seeded once per server and reused.

    `after_seed` (set per server by the harness) runs once the runs are in: PostgreSQL's
    ANALYZE, so that every server's searches are planned with statistics.
    """

    after_seed: Callable[[], None] = staticmethod(lambda: None)

    def __init__(self, port: int, runs: int, threads: int, finish: bool = True) -> None:
        api, self.exp_id = _setup(port, f"search-{runs}")
        api.close()
        start = time.perf_counter()
        seed_runs(port, self.exp_id, runs, threads, finish)
        self.seed_seconds = time.perf_counter() - start
        SearchFixture.after_seed()
        self.runs = runs

    def search(self, api: Api, max_results: int) -> JsonDict:
        body: JsonDict = {
            "experiment_ids": [self.exp_id],
            "filter": SEARCH_FILTER,
            "order_by": SEARCH_ORDER,
            "max_results": max_results,
            "run_view_type": "ACTIVE_ONLY",
        }
        return api.post("runs/search", body)

    def page(self, api: Api, max_results: int, token: str | None) -> JsonDict:
        body: JsonDict = {"experiment_ids": [self.exp_id], "max_results": max_results}
        if token:
            body["page_token"] = token
        return api.post("runs/search", body)


def check_order(runs: list[JsonDict]) -> list[str]:
    accs = [
        next((m["value"] for m in r["data"].get("metrics", []) if m["key"] == "acc"), None)
        for r in runs
    ]
    values = [a for a in accs if a is not None]
    if len(values) != len(accs) or values != sorted(values, reverse=True):
        return ["search results not ordered by metrics.acc DESC"]
    return []


def filtered_search(fixture: SearchFixture, port: int, sizes: Sizes, repeat: int) -> Measured:
    api = Api(port)
    started = time.perf_counter()
    first = fixture.search(api, 100).get("runs", [])
    cold_ms = (time.perf_counter() - started) * 1000
    for _ in range(sizes.warmup):
        fixture.search(api, 100)
    ms = [
        timed(lambda: fixture.search(api, 100)) * 1000 for _ in range(repeat * sizes.search_queries)
    ]
    api.close()
    notes = [f"{len(first)} hits on the first page", *check_order(first)]
    notes.append(f"the first search (cold): {cold_ms:.1f} ms")
    notes.append(f"seeding {fixture.runs} runs took {fixture.seed_seconds:.0f}s")
    return Measured(ms, p99=percentile(ms, 99), notes=notes)


def read_all(fixture: SearchFixture, api: Api, page_size: int) -> int:
    seen, token = 0, None
    for _ in range(fixture.runs // page_size + 3):
        answer = fixture.page(api, page_size, token)
        seen += len(answer.get("runs", []))
        token = answer.get("next_page_token")
        if not token:
            break
    return seen


def read_all_runs(fixture: SearchFixture, port: int, sizes: Sizes, repeat: int) -> Measured:
    api = Api(port)
    started = time.perf_counter()
    seen = read_all(fixture, api, sizes.page_size)  # warm-up
    cold = time.perf_counter() - started
    seconds = [timed(lambda: read_all(fixture, api, sizes.page_size)) for _ in range(repeat)]
    api.close()
    notes = [] if seen == fixture.runs else [f"read {seen} runs, expected {fixture.runs}"]
    notes.append(f"the first pass (cold): {cold:.3f} s")
    return Measured(seconds, notes=notes)


# --------------------------------------------------------------------------- 6. history


def seed_history(api: Api, run_id: str, points: int, batch: int) -> None:
    ts = now_ms()
    for lo in range(0, points, batch):
        chunk = [
            metric("loss", 1.0 / (s + 1), s, ts + s) for s in range(lo, min(points, lo + batch))
        ]
        api.log_batch(run_id, metrics=chunk)


def read_history(api: Api, run_id: str, sizes: Sizes) -> int:
    seen, token = 0, None
    for _ in range(sizes.history_points + 2):  # bounded even at one point per page
        query: JsonDict = {
            "run_id": run_id,
            "run_uuid": run_id,
            "metric_key": "loss",
            "max_results": sizes.history_page,
        }
        if token:
            query["page_token"] = token
        answer = api.get("metrics/get-history", query)
        seen += len(answer.get("metrics", []))
        token = answer.get("next_page_token")
        if not token:
            break
    return seen


def wl_history(port: int, sizes: Sizes, repeat: int) -> Measured:
    api, exp_id = _setup(port, "history")
    run_id = api.create_run(exp_id, "history")
    seed_history(api, run_id, sizes.history_points, sizes.batch_points)
    seen = read_history(api, run_id, sizes)  # warm-up
    seconds = [timed(lambda: read_history(api, run_id, sizes)) for _ in range(repeat)]
    api.close()
    expected = sizes.history_points
    notes = [] if seen == expected else [f"read {seen} points, expected {expected}"]
    return Measured(seconds, notes=notes)


# --------------------------------------------------------------------------- registry


def make_workloads(sizes: Sizes) -> list[Workload]:
    """Workloads in run order; the two search workloads share one seeded fixture."""
    fixture: dict[int, SearchFixture] = {}

    def get_fixture(port: int) -> SearchFixture:
        if port not in fixture:
            fixture.clear()
            fixture[port] = SearchFixture(port, sizes.search_runs, sizes.seed_threads)
        return fixture[port]

    def search(port: int, s: Sizes, repeat: int) -> Measured:
        return filtered_search(get_fixture(port), port, s, repeat)

    def pages(port: int, s: Sizes, repeat: int) -> Measured:
        return read_all_runs(get_fixture(port), port, s, repeat)

    def fresh(port: int, s: Sizes, repeat: int) -> Measured:
        return wl_log_metric(port, s, repeat, fresh=True)

    def wire(port: int, s: Sizes, repeat: int) -> Measured:
        return wl_log_metric(port, s, repeat, wire=True)

    def search_db(port: int, s: Sizes, repeat: int) -> Measured:
        from _floor import search_floor  # (imports this module)

        return search_floor(get_fixture(port), s, repeat)

    def read_all_db(port: int, s: Sizes, repeat: int) -> Measured:
        from _floor import read_all_floor

        return read_all_floor(get_fixture(port), s, repeat)

    def big(port: int, s: Sizes, repeat: int) -> Measured:
        big_fixture = SearchFixture(port, s.big_runs, s.seed_threads, finish=False)
        return filtered_search(big_fixture, port, s, repeat)

    n, pts = f"{sizes.search_runs:,}", f"{sizes.history_points:,}"
    return [
        Workload("log_batch", f"log-batch of {sizes.batch_points} metric points",
                 "points/s", True, False, wl_log_batch),
        Workload("log_metric", "single log-metric latency",
                 "ms", False, True, wl_log_metric),
        Workload("log_metric_fresh", "single log-metric latency (new connection per call)",
                 "ms", False, True, fresh),
        Workload("log_metric_wire", "single log-metric latency (socket client, not http.client)",
                 "ms", False, True, wire),
        Workload("create_runs", "runs/create + log-batch (10p/10m/5t) + runs/update",
                 "runs/s", True, False, wl_create_runs),
        Workload("search", f"filtered+ordered search over {n} runs (100 results)",
                 "ms", False, True, search),
        Workload("read_all", f"read all {n} runs, {sizes.page_size} per page",
                 "s", False, False, pages),
        Workload("search_db", "the search's SQL through the bare driver (Shipyard only)",
                 "ms", False, False, search_db),
        Workload("read_all_db", "read all's SQL through the bare driver (Shipyard only)",
                 "s", False, False, read_all_db),
        Workload("history", f"metrics/get-history of {pts} points",
                 "s", False, False, wl_history),
        Workload("search_big", f"filtered+ordered search over {sizes.big_runs:,} runs",
                 "ms", False, True, big),
    ]  # fmt: skip


def median(values: list[float]) -> float:
    return statistics.median(values)
