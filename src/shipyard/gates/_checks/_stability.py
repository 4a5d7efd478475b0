"""The stability check: small Gaussian noise on the float inputs must rarely change a
prediction. Integer and text columns are left as they are (noise would change their type)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from shipyard.gates._checks._common import fmt, result
from shipyard.gates._policy import StabilityCheck
from shipyard.gates._result import CheckResult
from shipyard.gates._subject import GateContext, PredictionFailed

__all__ = ["run_stability"]


def run_stability(check: StabilityCheck, ctx: GateContext) -> CheckResult:
    bounds = {"max_changed": check.max_changed, "noise": check.noise}
    features = ctx.features(ctx.candidate)
    rng = np.random.default_rng(check.seed)
    if len(features) > check.rows:
        features = features.iloc[np.sort(rng.choice(len(features), check.rows, replace=False))]
    noisy = features.copy()
    perturbed = []
    for column in features.columns:
        values = features[column]
        if isinstance(values.dtype, np.dtype) and values.dtype.kind == "f":
            scale = float(np.nanstd(values.to_numpy())) * check.noise
            noise = rng.normal(0.0, scale, len(values)).astype(values.dtype)
            noisy[column] = values.to_numpy() + noise
            perturbed.append(str(column))
    if not perturbed:
        return result(check, ["no float input columns to perturb"], "", bounds=bounds)
    try:
        before = _labels(ctx.candidate.model.predict(features))
        after = _labels(ctx.candidate.model.predict(noisy))
    except Exception as exc:
        raise PredictionFailed("candidate", exc) from exc
    changed = _changed(before, after, ctx.task, check.tolerance)
    share = float(changed.mean()) if len(changed) else 0.0
    described = (
        f"{fmt(share * 100)}% of {len(changed)} predictions changed under noise of "
        f"{fmt(check.noise)} x std on {len(perturbed)} columns"
    )
    failures = []
    if share > check.max_changed:
        failures.append(f"{described}, above the maximum {fmt(check.max_changed * 100)}%")
    return result(
        check, failures, f"{described} (at most {fmt(check.max_changed * 100)}%)",
        measured={"changed_share": share, "rows": len(changed), "columns": perturbed},
        bounds=bounds,
    )  # fmt: skip


def _labels(answer: Any) -> np.ndarray[Any, Any]:
    values = (
        answer.to_numpy() if isinstance(answer, pd.DataFrame | pd.Series) else np.asarray(answer)
    )
    return values[:, 0] if values.ndim == 2 and values.shape[1] == 1 else values


def _changed(
    before: np.ndarray[Any, Any], after: np.ndarray[Any, Any], task: str, tolerance: float
) -> np.ndarray[Any, Any]:
    if task == "classification" or before.dtype.kind not in "fiu":
        return np.asarray(pd.Series(before).to_numpy() != pd.Series(after).to_numpy())
    scale = float(np.std(before)) or 1.0
    return np.asarray(np.abs(after.astype(float) - before.astype(float)) > tolerance * scale)
