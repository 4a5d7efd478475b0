"""The reference profile: a compact summary of the training data, kept next to the model.

Drift monitoring compares live inputs (and outputs) with this profile, so it must describe the
distribution without holding the data: per numeric column quantiles, a histogram (bin edges and
counts), mean and standard deviation; per categorical column the most frequent values with their
frequencies; per column the missing rate; and the row count. No row is stored. Category values
seen fewer than ``min_category_count`` times are folded into ``other_frequency``, so a column of
identifiers (every value unique) reveals none of them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidParameter

__all__ = ["PROFILE_FILE", "PROFILE_FORMAT_VERSION", "build_profile", "write_profile"]

PROFILE_FILE = "reference_profile.json"
PROFILE_FORMAT_VERSION = 1
QUANTILES = (0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0)
HISTOGRAM_BINS = 20
TOP_K = 20
MIN_CATEGORY_COUNT = 5


def build_profile(
    inputs: Any,
    outputs: Any = None,
    *,
    top_k: int = TOP_K,
    min_category_count: int = MIN_CATEGORY_COUNT,
) -> dict[str, Any]:
    """The profile of ``inputs`` (a DataFrame or 1-2D array) and, if given, of ``outputs``."""
    frame = _as_frame(inputs, "reference_data")
    profile: dict[str, Any] = {
        "profile_format_version": PROFILE_FORMAT_VERSION,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "row_count": len(frame),
        "inputs": _profile_frame(frame, top_k, min_category_count),
    }
    if outputs is not None:
        out = _as_frame(outputs, "reference_predictions", prefix="prediction")
        if len(out) != len(frame):
            raise InvalidParameter(
                f"reference_predictions has {len(out)} rows; reference_data has {len(frame)}"
            )
        profile["outputs"] = _profile_frame(out, top_k, min_category_count)
    return profile


def write_profile(profile: Mapping[str, Any], folder: str | Path) -> Path:
    path = Path(folder) / PROFILE_FILE
    path.write_text(json.dumps(profile, indent=1, allow_nan=False))
    return path


def _as_frame(data: Any, what: str, prefix: str = "") -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        return data.to_frame(name=str(data.name) if data.name is not None else prefix or "0")
    array = np.asarray(data)
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    if array.ndim != 2:
        raise InvalidParameter(f"{what} must be a table or a 1-2 dimensional array")
    names = [f"{prefix}_{i}" if prefix else str(i) for i in range(array.shape[1])]
    if prefix and array.shape[1] == 1:
        names = [prefix]
    return pd.DataFrame(array, columns=names)


def _profile_frame(frame: pd.DataFrame, top_k: int, min_count: int) -> dict[str, Any]:
    return {str(name): _profile_column(frame[name], top_k, min_count) for name in frame.columns}


def _profile_column(column: pd.Series, top_k: int, min_count: int) -> dict[str, Any]:
    rows = len(column)
    missing = int(column.isna().sum())
    base = {"missing_rate": _ratio(missing, rows), "count": rows - missing}
    dtype = column.dtype
    if pd.api.types.is_bool_dtype(dtype) or not (
        pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_datetime64_any_dtype(dtype)
    ):
        return {"kind": "categorical", **base, **_categories(column, top_k, min_count)}
    if pd.api.types.is_datetime64_any_dtype(dtype):
        values = column.dropna().astype("int64").to_numpy(dtype=np.float64) / 1e9
        return {"kind": "datetime", "unit": "epoch_seconds", **base, **_numeric(values)}
    values = column.dropna().to_numpy(dtype=np.float64)
    return {"kind": "numeric", **base, **_numeric(values[np.isfinite(values)])}


def _numeric(values: np.ndarray[Any, Any]) -> dict[str, Any]:
    if values.size == 0:
        return {"quantiles": None, "histogram": None, "mean": None, "std": None}
    quantiles = np.quantile(values, QUANTILES)
    counts, edges = np.histogram(values, bins=HISTOGRAM_BINS)
    return {
        "quantiles": {f"{q:g}": float(v) for q, v in zip(QUANTILES, quantiles, strict=True)},
        "histogram": {"bin_edges": [float(e) for e in edges], "counts": counts.tolist()},
        "mean": float(values.mean()),
        "std": float(values.std()),
    }


def _categories(column: pd.Series, top_k: int, min_count: int) -> dict[str, Any]:
    present = column.dropna()
    counts = present.astype(str).value_counts()
    total = len(present)
    kept = counts[counts >= min_count].head(top_k)
    top = [
        {"value": str(value), "count": int(count), "frequency": _ratio(int(count), total)}
        for value, count in kept.items()
    ]
    return {
        "distinct_count": len(counts),
        "top": top,
        "other_frequency": _ratio(total - int(kept.sum()), total),
    }


def _ratio(part: int, whole: int) -> float:
    return float(part / whole) if whole else 0.0
