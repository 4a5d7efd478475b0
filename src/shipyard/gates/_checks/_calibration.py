"""The calibration check: expected calibration error (ECE) and Brier score of a classifier.

Binary classifiers are binned on the positive class's probability; multiclass ones on their top
probability against whether the top class was right (top-label ECE). Bins are equal-width.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shipyard.gates._checks._common import fmt, result
from shipyard.gates._policy import CalibrationCheck
from shipyard.gates._result import CheckResult, Plot
from shipyard.gates._subject import GateContext

__all__ = ["calibration_error", "run_calibration"]

_Array = np.ndarray[Any, Any]


def calibration_error(
    confidence: _Array, hit: _Array, bins: int
) -> tuple[float, list[dict[str, Any]]]:
    """ECE and the reliability table (per bin: rows, mean confidence, observed frequency)."""
    index = np.minimum((confidence * bins).astype(int), bins - 1)
    rows = np.bincount(index, minlength=bins)
    conf_sum = np.bincount(index, weights=confidence, minlength=bins)
    hit_sum = np.bincount(index, weights=hit.astype(float), minlength=bins)
    filled = rows > 0
    mean_conf = np.divide(conf_sum, rows, out=np.zeros(bins), where=filled)
    observed = np.divide(hit_sum, rows, out=np.zeros(bins), where=filled)
    ece = float((np.abs(mean_conf - observed) * rows).sum() / max(rows.sum(), 1))
    table = [
        {
            "bin": f"{i / bins:.2f}-{(i + 1) / bins:.2f}",
            "rows": int(rows[i]),
            "mean_probability": float(mean_conf[i]),
            "observed_frequency": float(observed[i]),
        }
        for i in range(bins)
        if filled[i]
    ]
    return ece, table


def run_calibration(check: CalibrationCheck, ctx: GateContext) -> CheckResult:
    bounds = {
        k: v
        for k, v in (("max_ece", check.max_ece), ("max_brier", check.max_brier))
        if v is not None
    }
    if ctx.task != "classification":
        return result(check, ["calibration applies to classifiers; the label looks like a regression target"], "", bounds=bounds)  # fmt: skip # noqa: E501
    outputs = ctx.outputs(ctx.candidate)
    if outputs.proba is None or outputs.classes is None:
        return result(check, ["the model gives no class probabilities (no predict_proba)"], "", bounds=bounds)  # fmt: skip # noqa: E501
    y, proba, classes = ctx.y_true, outputs.proba, outputs.classes
    onehot = (y[:, None] == classes[None, :]).astype(float)
    if len(classes) == 2:
        column = int(np.flatnonzero(classes == ctx.positive)[0]) if ctx.positive in classes else 1
        confidence, hit = proba[:, column], onehot[:, column]
        brier = float(np.mean((confidence - hit) ** 2))
    else:
        top = np.argmax(proba, axis=1)
        confidence, hit = proba[np.arange(len(y)), top], classes[top] == y
        brier = float(np.mean(((proba - onehot) ** 2).sum(axis=1)))
    ece, table = calibration_error(np.clip(confidence, 0.0, 1.0), hit, check.bins)
    failures: list[str] = []
    if check.max_ece is not None and ece > check.max_ece:
        failures.append(
            f"expected calibration error = {fmt(ece)}, above the maximum {fmt(check.max_ece)}"
        )
    if check.max_brier is not None and brier > check.max_brier:
        failures.append(f"Brier score = {fmt(brier)}, above the maximum {fmt(check.max_brier)}")
    plot = Plot(
        title="Reliability diagram",
        kind="line",
        x=[row["mean_probability"] for row in table],
        series={
            "observed frequency": [row["observed_frequency"] for row in table],
            "perfect calibration": [row["mean_probability"] for row in table],
        },
        x_label="predicted probability",
        y_label="observed frequency",
    )
    summary = f"expected calibration error = {fmt(ece)}, Brier score = {fmt(brier)}"
    return result(
        check, failures, f"{summary} ({', '.join(f'{k} {fmt(v)}' for k, v in bounds.items())})",
        measured={"ece": ece, "brier": brier}, bounds=bounds, table=table, plots=[plot],
    )  # fmt: skip
