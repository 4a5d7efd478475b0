"""The input example: stored as JSON in MLflow's layout, plus the scoring-server request body.

A DataFrame is written in pandas' ``split`` orient (``{"columns": [...], "data": [[...]]}``) and
served as ``{"dataframe_split": ...}``; an array is written as nested lists and served as
``{"inputs": ...}``. Missing values become ``null`` and bytes become base64, so both files are
strict JSON that any client parses.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidModel

__all__ = ["EXAMPLE_FILE", "SERVING_EXAMPLE_FILE", "as_example", "load_example", "save_example"]

EXAMPLE_FILE = "input_example.json"
SERVING_EXAMPLE_FILE = "serving_input_example.json"


def as_example(data: Any) -> pd.DataFrame | np.ndarray[Any, Any]:
    """An input example as a DataFrame (tables, dicts, records) or an array (everything else)."""
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        return data.to_frame()
    if isinstance(data, Mapping) or (isinstance(data, list) and data and isinstance(data[0], dict)):
        return pd.DataFrame(data)
    return np.asarray(data)


def save_example(example: pd.DataFrame | np.ndarray[Any, Any], folder: Path) -> dict[str, Any]:
    """Write both example files; returns the manifest's ``saved_input_example_info``."""
    if isinstance(example, pd.DataFrame):
        split = _split(example)
        stored, served = split, {"dataframe_split": split}
        info = {"type": "dataframe", "pandas_orient": "split"}
    else:
        rows = _json_safe(example)
        stored, served = rows, {"inputs": rows}
        info = {"type": "ndarray"}
    (folder / EXAMPLE_FILE).write_text(json.dumps(stored, allow_nan=False))
    (folder / SERVING_EXAMPLE_FILE).write_text(json.dumps(served, indent=2, allow_nan=False))
    return {"artifact_path": EXAMPLE_FILE, **info, "serving_input_path": SERVING_EXAMPLE_FILE}


def load_example(folder: Path, info: Mapping[str, Any]) -> pd.DataFrame | np.ndarray[Any, Any]:
    """Read the example back (column types as JSON can carry them)."""
    path = folder / str(info.get("artifact_path", EXAMPLE_FILE))
    try:
        stored = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidModel(f"The model's input example {path.name} cannot be read: {exc}") from None
    if info.get("type") == "dataframe":
        return pd.DataFrame(stored["data"], columns=stored["columns"])
    return np.asarray(stored)


def _split(frame: pd.DataFrame) -> dict[str, Any]:
    encoded = frame.copy()
    for name in encoded.columns:
        if encoded[name].dtype == object and any(isinstance(v, bytes) for v in encoded[name]):
            encoded[name] = encoded[name].map(_b64)
    text = encoded.to_json(orient="split", index=False, date_format="iso", date_unit="us")
    parsed: dict[str, Any] = json.loads(text)
    return {"columns": [str(c) for c in frame.columns], "data": parsed["data"]}


def _json_safe(array: np.ndarray[Any, Any]) -> Any:
    if array.dtype.kind == "f":
        finite = np.isfinite(array)
        array = array.astype(object)
        array[~finite] = None  # NaN and inf are not JSON
    if array.dtype.kind == "M":
        array = np.datetime_as_string(array, unit="us")
    return json.loads(json.dumps(array.tolist(), default=_default))


def _default(value: Any) -> Any:
    if isinstance(value, bytes):
        return _b64(value)
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _b64(value: Any) -> Any:
    return base64.b64encode(value).decode("ascii") if isinstance(value, bytes) else value
