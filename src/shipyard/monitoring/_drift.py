"""Data drift of one window profile against the reference, per column and for the data set.

Method choice by default (``auto``), after Evidently's documented defaults: a window with at most
``small_sample`` values in a column is judged by a test with a p-value (Kolmogorov-Smirnov for
numbers, chi-square for categories, drift when p < 0.05); a larger window by a distance
(Wasserstein normalised by the reference standard deviation for numbers, Jensen-Shannon for
categories, drift above 0.1), because with many rows every test rejects on differences too small
to matter. PSI is reported for every numeric column and can be chosen as the method. The data set
drifts when the share of drifted input columns reaches ``drift_share``. Missing values and unseen
categories are their own signals, separate from the distribution's drift.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from shipyard.monitoring._profile import WindowProfile
from shipyard.monitoring._reference import Reference, ReferenceColumn
from shipyard.monitoring._sketch import (
    SUB_BINS,
    TAIL_BINS,
    CategoricalSketch,
    FloatArray,
    NumericSketch,
)
from shipyard.monitoring._stats import (
    chi_square,
    jensen_shannon,
    ks_binned,
    psi,
    wasserstein_binned,
)

__all__ = ["DriftSettings", "column_drift", "dataset_drift"]

_STD_FLOOR = 1e-3  # Evidently's normaliser for a constant reference column


class DriftSettings(BaseModel):
    """Drift methods and thresholds (every field has a documented default)."""

    model_config = ConfigDict(extra="forbid")

    numerical_method: Literal["auto", "ks", "wasserstein", "psi"] = "auto"
    categorical_method: Literal["auto", "chisquare", "jensenshannon"] = "auto"
    small_sample: Annotated[int, Field(ge=1)] = 1000
    ks_pvalue: Annotated[float, Field(gt=0, lt=1)] = 0.05
    chisquare_pvalue: Annotated[float, Field(gt=0, lt=1)] = 0.05
    wasserstein_threshold: Annotated[float, Field(gt=0)] = 0.1
    jensenshannon_threshold: Annotated[float, Field(gt=0, le=1)] = 0.1
    psi_threshold: Annotated[float, Field(gt=0)] = 0.1
    drift_share: Annotated[float, Field(gt=0, le=1)] = 0.5
    min_rows: Annotated[int, Field(ge=1)] = 30
    missing_rate_increase: Annotated[float, Field(gt=0, le=1)] = 0.05
    unseen_share: Annotated[float, Field(gt=0, le=1)] = 0.05


def dataset_drift(
    profile: WindowProfile, reference: Reference, settings: DriftSettings | None = None
) -> dict[str, Any]:
    """Per-column drift and the data set's verdict for one window."""
    settings = settings or DriftSettings()
    columns = []
    for column in reference.columns:
        sketch = profile.sketches.get(column.log_column)
        if sketch is not None:
            columns.append(column_drift(column, sketch, settings))
    judged = [c for c in columns if c["role"] == "input" and c["drifted"] is not None]
    drifted = [c["column"] for c in judged if c["drifted"]]
    share = len(drifted) / len(judged) if judged else None
    prediction = [c for c in columns if c["role"] == "output"]
    return {
        "start": profile.start.isoformat(),
        "end": profile.end.isoformat(),
        "rows": profile.rows,
        "columns": columns,
        "compared_columns": len(judged),
        "drifted_columns": drifted,
        "drift_share": share,
        "dataset_drift": share is not None and share >= settings.drift_share,
        "prediction_drift": any(c["drifted"] for c in prediction),
        "missing_signals": [c["column"] for c in columns if c["missing_drift"]],
        "unseen_signals": [c["column"] for c in columns if c.get("unseen_drift")],
        "not_compared": profile.hashed,
    }


def column_drift(
    column: ReferenceColumn, sketch: NumericSketch | CategoricalSketch, settings: DriftSettings
) -> dict[str, Any]:
    present = sketch.count
    rows = present + sketch.missing
    missing_rate = sketch.missing / rows if rows else None
    result: dict[str, Any] = {
        "column": column.name,
        "log_column": column.log_column,
        "role": column.role,
        "kind": column.kind,
        "count": present,
        "missing_rate": missing_rate,
        "reference_missing_rate": column.missing_rate,
        "missing_drift": _missing_drift(missing_rate, column.missing_rate, rows, settings),
    }
    if present < settings.min_rows:
        return {**result, "method": None, "drifted": None, "reason": "too few values"}
    if isinstance(sketch, NumericSketch):
        return {**result, **_numeric(column, sketch, settings)}
    return {**result, **_categorical(column, sketch, settings)}


def _numeric(
    column: ReferenceColumn, sketch: NumericSketch, settings: DriftSettings
) -> dict[str, Any]:
    assert column.grid is not None and column.bin_counts is not None
    grid = column.grid
    ref_bins = grid.reference_bins
    first = grid.first_inner
    counts = sketch.counts.astype(np.float64)
    inner = counts[first : first + ref_bins * SUB_BINS].reshape(ref_bins, -1).sum(axis=1)
    below, above = counts[:first], counts[first + ref_bins * SUB_BINS :]
    current = np.concatenate([below, inner, above])
    reference = np.concatenate([np.zeros(len(below)), column.bin_counts, np.zeros(len(above))])
    mids = grid.midpoints(sketch.low, sketch.high)
    ref_edges = grid.edges[TAIL_BINS::SUB_BINS][: ref_bins + 1]
    points = np.concatenate(
        [mids[:first], (ref_edges[:-1] + ref_edges[1:]) / 2, mids[first + ref_bins * SUB_BINS :]]
    )
    ks_stat, ks_p = ks_binned(reference, current)
    spread = column.std if column.std else _STD_FLOOR
    w = wasserstein_binned(points, reference, current)
    wasserstein = None if w is None else w / spread
    stability = psi(
        np.concatenate([[0.0], column.bin_counts, [0.0]]),
        np.concatenate([[below.sum()], inner, [above.sum()]]),
    )
    method = settings.numerical_method
    if method == "auto":
        method = "ks" if sketch.count <= settings.small_sample else "wasserstein"
    if method == "ks":
        statistic: float | None = ks_p
        threshold, drifted = settings.ks_pvalue, ks_p < settings.ks_pvalue
    elif method == "wasserstein":
        threshold = settings.wasserstein_threshold
        statistic, drifted = wasserstein, (wasserstein or 0.0) > threshold
    else:
        threshold = settings.psi_threshold
        statistic, drifted = stability, (stability or 0.0) > threshold
    return {
        "method": method,
        "statistic": statistic,
        "threshold": threshold,
        "drifted": bool(drifted),
        "ks_statistic": ks_stat,
        "ks_pvalue": ks_p,
        "wasserstein_normed": wasserstein,
        "psi": stability,
        "mean": sketch.mean(),
        "reference_mean": column.mean,
        "std": sketch.std(),
        "reference_std": column.std,
        "out_of_range_share": float((below.sum() + above.sum()) / max(current.sum(), 1.0)),
        "histogram": {
            "edges": [float(e) for e in ref_edges],
            "reference": _shares(column.bin_counts),
            "current": _shares(inner, current.sum()),
            "below": float(below.sum() / max(current.sum(), 1.0)),
            "above": float(above.sum() / max(current.sum(), 1.0)),
        },
    }


def _categorical(
    column: ReferenceColumn, sketch: CategoricalSketch, settings: DriftSettings
) -> dict[str, Any]:
    assert column.category_counts is not None
    reference = column.category_counts
    current = np.concatenate([sketch.counts.astype(np.float64), [float(sketch.unseen_count)]])
    chi_stat, chi_p = chi_square(reference, current)
    js = jensen_shannon(reference, current)
    method = settings.categorical_method
    if method == "auto":
        method = "chisquare" if sketch.count <= settings.small_sample else "jensenshannon"
    if method == "chisquare":
        statistic: float | None = chi_p
        threshold = settings.chisquare_pvalue
        drifted = chi_p < threshold
    else:
        statistic, threshold = js, settings.jensenshannon_threshold
        drifted = (js or 0.0) > threshold
    unseen_share = sketch.unseen_count / sketch.count if sketch.count else 0.0
    reference_other = float(reference[-1] / reference.sum()) if reference.sum() else 0.0
    labels = [*column.categories, "(other)"]
    top_unseen = sorted(sketch.unseen.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    return {
        "method": method,
        "statistic": statistic,
        "threshold": threshold,
        "drifted": bool(drifted),
        "chisquare_statistic": chi_stat,
        "chisquare_pvalue": chi_p,
        "jensenshannon": js,
        "unseen_share": unseen_share,
        "reference_other_share": reference_other,
        "unseen_drift": unseen_share - reference_other > settings.unseen_share,
        "top_unseen": [{"value": k, "count": v} for k, v in top_unseen],
        "categories": {
            "labels": labels,
            "reference": _shares(reference),
            "current": _shares(current),
        },
    }


def _missing_drift(
    rate: float | None, reference: float, rows: int, settings: DriftSettings
) -> bool:
    if rate is None or rows < settings.min_rows:
        return False
    increase = rate - reference
    # A sampling-noise guard: the increase must also exceed 3 standard errors.
    noise = 3 * np.sqrt(max(reference * (1 - reference), 1.0 / rows) / rows)
    return bool(increase > settings.missing_rate_increase and increase > noise)


def _shares(counts: FloatArray, total: float | None = None) -> list[float]:
    whole = float(counts.sum() if total is None else total)
    return [float(c / whole) if whole else 0.0 for c in counts]
