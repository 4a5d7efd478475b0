"""The latency check: p50 and p99 of ``predict()`` through the loaded package (signature
enforcement included, as in serving) on one row and on a batch."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from shipyard.gates._checks._common import fmt, result
from shipyard.gates._policy import LatencyCheck
from shipyard.gates._result import CheckResult, Plot
from shipyard.gates._subject import GateContext, PredictionFailed
from shipyard.models import PyFuncModel

__all__ = ["run_latency"]


def _timings(
    model: PyFuncModel, rows: pd.DataFrame, repeats: int, warmup: int, budget: float, least: int
) -> np.ndarray[Any, Any]:
    """Milliseconds per call; stops after ``least`` calls once ``budget`` seconds are spent."""
    for _ in range(warmup):
        model.predict(rows)
    spent = np.empty(repeats)
    deadline = time.perf_counter() + budget
    for i in range(repeats):
        start = time.perf_counter()
        model.predict(rows)
        end = time.perf_counter()
        spent[i] = (end - start) * 1000.0
        if i + 1 >= least and end > deadline:
            return spent[: i + 1]
    return spent


def run_latency(check: LatencyCheck, ctx: GateContext) -> CheckResult:
    features = ctx.features(ctx.candidate)
    if features.empty:
        return result(check, ["the evaluation data has no rows to time"], "")
    batch = features.iloc[np.arange(check.batch_rows) % len(features)]
    model = ctx.candidate.model
    try:
        half = check.max_seconds / 2
        single = _timings(model, features.iloc[:1], check.repeats, check.warmup, half, 20)
        batched = _timings(model, batch, check.batch_repeats, min(check.warmup, 2), half, 3)
    except Exception as exc:
        raise PredictionFailed("candidate", exc) from exc
    measured = {
        "single_p50_ms": float(np.percentile(single, 50)),
        "single_p99_ms": float(np.percentile(single, 99)),
        "batch_p50_ms": float(np.percentile(batched, 50)),
        "batch_p99_ms": float(np.percentile(batched, 99)),
        "batch_rows": check.batch_rows,
        "single_calls": len(single),
        "batch_calls": len(batched),
    }
    bounds: dict[str, Any] = {}
    failures: list[str] = []
    for key in ("single_p50_ms", "single_p99_ms", "batch_p50_ms", "batch_p99_ms"):
        bound = getattr(check, key)
        if bound is None:
            continue
        bounds[key] = bound
        if measured[key] > bound:
            failures.append(
                f"{_say(key, check)} = {fmt(measured[key])} ms, above the maximum {fmt(bound)} ms"
            )
    summary = ", ".join(f"{_say(k, check)} = {fmt(measured[k])} ms" for k in bounds)
    counts, edges = np.histogram(single, bins=30)
    plot = Plot(
        title="predict() latency on one row",
        kind="bars",
        x=[float(v) for v in (edges[:-1] + edges[1:]) / 2],
        series={"calls": [float(c) for c in counts]},
        x_label="milliseconds",
        y_label="calls",
        marks={k: v for k, v in bounds.items() if k.startswith("single")},
    )
    return result(check, failures, summary, measured=measured, bounds=bounds, plots=[plot])


def _say(key: str, check: LatencyCheck) -> str:
    what, _, quantile = key.removesuffix("_ms").partition("_")
    rows = "1 row" if what == "single" else f"{check.batch_rows} rows"
    return f"{quantile} latency on {rows}"
