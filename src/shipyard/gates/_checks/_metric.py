"""The metric check: an absolute bound on the point value, and a gain over the baseline that
must hold across the paired bootstrap's confidence interval, so a gain within noise fails."""

from __future__ import annotations

from typing import Any

import numpy as np

from shipyard.gates._bootstrap import bootstrap, interval, weighted_metric
from shipyard.gates._checks._common import fmt, result
from shipyard.gates._metrics import metric_value, resolve_metric
from shipyard.gates._policy import MetricCheck
from shipyard.gates._result import CheckResult, Plot
from shipyard.gates._subject import GateContext

__all__ = ["run_metric"]


def run_metric(check: MetricCheck, ctx: GateContext) -> CheckResult:
    spec = resolve_metric(
        check.metric, check.params, greater_is_better=check.greater_is_better,
        response=check.response,
    )  # fmt: skip
    y, classes, positive = ctx.y_true, ctx.classes, ctx.positive
    candidate = ctx.outputs(ctx.candidate)
    value = metric_value(spec, y, candidate, positive, classes)
    measured: dict[str, Any] = {"value": value, "greater_is_better": spec.greater_is_better}
    bounds: dict[str, Any] = {}
    failures: list[str] = []
    name = check.metric
    if check.min is not None:
        bounds["min"] = check.min
        if not value >= check.min:
            failures.append(f"{name} = {fmt(value)}, below the minimum {fmt(check.min)}")
    if check.max is not None:
        bounds["max"] = check.max
        if not value <= check.max:
            failures.append(f"{name} = {fmt(value)}, above the maximum {fmt(check.max)}")
    boot = ctx.policy.bootstrap
    plots: list[Plot] = []
    stats = [weighted_metric(spec, y, candidate, positive, classes)]
    baseline = None
    if check.min_gain is not None and ctx.baseline is not None:
        baseline = ctx.outputs(ctx.baseline)
        stats.append(weighted_metric(spec, y, baseline, positive, classes))
    samples = bootstrap(stats, ctx.rows, boot.resamples, boot.seed)
    ci = interval(samples[0], boot.confidence)
    measured.update(ci_low=ci.low, ci_high=ci.high, confidence=boot.confidence)
    summary = f"{name} = {fmt(value)} ({_pct(boot.confidence)} CI {fmt(ci.low)} to {fmt(ci.high)})"
    if check.min_gain is not None:
        bounds["min_gain"] = check.min_gain
        if baseline is None or ctx.baseline is None:
            measured["baseline"] = None
            summary += f"; no version holds {ctx.policy.baseline_alias!r}: no baseline to beat"
        else:
            sign = 1.0 if spec.greater_is_better else -1.0
            base_value = metric_value(spec, y, baseline, positive, classes)
            gains = sign * (samples[0] - samples[1])
            gain_ci = interval(gains, boot.confidence)
            gain = sign * (value - base_value)
            measured.update(
                baseline=base_value, gain=gain, gain_ci_low=gain_ci.low, gain_ci_high=gain_ci.high
            )
            described = (
                f"gain over the baseline ({ctx.baseline.name}, {name} = {fmt(base_value)}) is "
                f"{gain:+.4g} ({_pct(boot.confidence)} CI {gain_ci.low:+.4g} to "
                f"{gain_ci.high:+.4g})"
            )
            if not gain_ci.low >= check.min_gain:
                failures.append(
                    f"{described}: the interval's lower end is below the required gain "
                    f"{check.min_gain:+.4g}"
                )
            summary += f"; {described}, at least {check.min_gain:+.4g}"
            plots.append(_gain_plot(name, gains, check.min_gain))
    return result(check, failures, summary, measured=measured, bounds=bounds, plots=plots)


def _pct(confidence: float) -> str:
    return f"{confidence * 100:g}%"


def _gain_plot(name: str, gains: np.ndarray[Any, Any], min_gain: float) -> Plot:
    counts, edges = np.histogram(gains[np.isfinite(gains)], bins=40)
    centers = (edges[:-1] + edges[1:]) / 2
    return Plot(
        title=f"Paired bootstrap: gain in {name} over the baseline",
        kind="bars",
        x=[float(c) for c in centers],
        series={"resamples": [float(c) for c in counts]},
        x_label=f"{name} gain (candidate - baseline)",
        y_label="resamples",
        marks={"required gain": min_gain, "no change": 0.0},
    )
