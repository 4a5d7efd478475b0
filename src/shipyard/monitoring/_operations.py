"""Operational health of a window: requests, rows, errors and a latency sketch.

Latency is a per-request value (every row of a request carries the same ``latency_ms``), so it
is counted once per request. The latency histogram has log-spaced bins 2% wide between 10 us and
1,000 s: percentiles are within 2% and the sketch merges by addition.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from shipyard.monitoring._sketch import IntArray

__all__ = ["OperationsSketch"]

_RATIO = 1.02
_LOW_MS = 0.01
_EDGES = _LOW_MS * _RATIO ** np.arange(int(np.ceil(np.log(1e8) / np.log(_RATIO))) + 1)
_SIZE = len(_EDGES) + 1


@dataclass
class OperationsSketch:
    rows: int
    requests: int
    error_requests: int
    latency: IntArray

    @classmethod
    def empty(cls) -> OperationsSketch:
        return cls(0, 0, 0, np.zeros(_SIZE, dtype=np.int64))

    @classmethod
    def of(cls, frame: pd.DataFrame) -> OperationsSketch:
        if frame.empty:
            return cls.empty()
        # A request's rows are written together, so a request starts where the id changes
        # (a hash of every id would cost 30x more on a million rows).
        ids = frame["request_id"]
        first = (ids != ids.shift()).to_numpy(dtype=bool, na_value=True)
        requests = frame.loc[first]
        latency = requests["latency_ms"].to_numpy(dtype=np.float64, na_value=np.nan)
        latency = latency[np.isfinite(latency)]
        counts = np.bincount(np.searchsorted(_EDGES, latency, "right"), minlength=_SIZE)
        errors = frame.loc[frame["status"] == "error", "request_id"].nunique()
        return cls(len(frame), len(requests), int(errors), counts.astype(np.int64))

    def merge(self, other: OperationsSketch) -> OperationsSketch:
        return OperationsSketch(
            self.rows + other.rows,
            self.requests + other.requests,
            self.error_requests + other.error_requests,
            self.latency + other.latency,
        )

    @property
    def error_rate(self) -> float | None:
        return self.error_requests / self.requests if self.requests else None

    def latency_quantile(self, q: float) -> float | None:
        """The latency (ms) below which a share ``q`` of requests finished (bin's upper edge)."""
        n = int(self.latency.sum())
        if not n:
            return None
        i = int(np.searchsorted(np.cumsum(self.latency), q * n, "left"))
        if i == 0:
            return float(_EDGES[0])
        return float(_EDGES[min(i, len(_EDGES) - 1)] if i < len(_EDGES) else _EDGES[-1])

    def summary(self, seconds: float) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "requests": self.requests,
            "error_requests": self.error_requests,
            "error_rate": self.error_rate,
            "throughput_rps": self.requests / seconds if seconds > 0 else None,
            "rows_per_second": self.rows / seconds if seconds > 0 else None,
            "latency_p50_ms": self.latency_quantile(0.5),
            "latency_p90_ms": self.latency_quantile(0.9),
            "latency_p99_ms": self.latency_quantile(0.99),
        }

    def to_dict(self) -> dict[str, Any]:
        nz = np.flatnonzero(self.latency)
        return {
            "rows": self.rows,
            "requests": self.requests,
            "error_requests": self.error_requests,
            "latency_bins": nz.tolist(),
            "latency_counts": self.latency[nz].tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OperationsSketch:
        latency = np.zeros(_SIZE, dtype=np.int64)
        latency[np.asarray(data["latency_bins"], dtype=np.int64)] = data["latency_counts"]
        return cls(int(data["rows"]), int(data["requests"]), int(data["error_requests"]), latency)
