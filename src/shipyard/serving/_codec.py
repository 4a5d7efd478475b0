"""MLflow's scoring protocol: request bodies in, ``{"predictions": ...}`` out.

JSON bodies carry one of ``dataframe_split``, ``dataframe_records``, ``instances`` or ``inputs``
(plus optional ``params``); CSV and Parquet bodies are tables. A JSON table whose values are all
numbers becomes one NumPy block (not a column-by-column pandas build): that is most of the cost
of a one-row request, and the signature check that follows treats both the same. When its
columns are the served signature's, the block stays ``NumericRows`` until a frame is needed: a
micro-batch stacks the blocks of its requests into one frame instead of building one per request.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pandas as pd

from shipyard.errors import BadRequest
from shipyard.serving._errors import UnsupportedMediaType
from shipyard.serving._source import Served

__all__ = [
    "CONTENT_TYPES",
    "NumericRows",
    "decode_invocation",
    "encode_predictions",
    "json_default",
    "model_input",
]

JSON = "application/json"
CSV = "text/csv"
PARQUET = ("application/x-parquet", "application/parquet", "application/vnd.apache.parquet")
CONTENT_TYPES = (JSON, CSV, *PARQUET)
_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")


@dataclass(frozen=True, slots=True)
class NumericRows:
    """Rows of numbers under the served model's columns (its shared Index), not yet a frame."""

    block: np.ndarray[Any, Any]  # 2-d, integer or float
    columns: pd.Index

    def __len__(self) -> int:
        return len(self.block)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.block, columns=self.columns, copy=False)


def model_input(data: Any) -> Any:
    """What ``predict()`` and the inference log are given for a decoded body."""
    return data.frame() if isinstance(data, NumericRows) else data


def media_type(header: str | None) -> str:
    return (header or "").partition(";")[0].strip().lower()


def decode_invocation(
    body: bytes, content_type: str | None, served: Served
) -> tuple[Any, dict[str, Any] | None]:
    """``(model input or NumericRows, params)`` of an ``/invocations`` body."""
    kind = media_type(content_type)
    if kind == JSON or kind.endswith("+json"):
        return _decode_json(body, served)
    if kind == CSV:
        return _read_table(lambda: pd.read_csv(io.BytesIO(body)), "CSV"), None
    if kind in PARQUET:
        return _read_table(lambda: pd.read_parquet(io.BytesIO(body)), "Parquet"), None
    raise UnsupportedMediaType(
        f"Content-Type {content_type or '(none)'!r} is not supported; send one of "
        + ", ".join(CONTENT_TYPES)
    )


def _read_table(read: Any, what: str) -> pd.DataFrame:
    try:
        frame: pd.DataFrame = read()
    except Exception as exc:
        raise BadRequest(f"The body is not a readable {what} table: {exc}") from None
    return frame


def _decode_json(body: bytes, served: Served) -> tuple[Any, dict[str, Any] | None]:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"The body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise BadRequest(f"The JSON body must be an object with one of the keys {list(_KEYS)}")
    found = [key for key in _KEYS if key in payload]
    if len(found) != 1:
        raise BadRequest(
            f"The JSON body must have exactly one of the keys {list(_KEYS)}; "
            f"it has {sorted(payload)}"
        )
    params = payload.get("params")
    if params is not None and not isinstance(params, dict):
        raise BadRequest("'params' must be a JSON object")
    key = found[0]
    value = payload[key]
    if key == "dataframe_split":
        return _split_frame(value, served), params
    if key == "dataframe_records":
        return _records_frame(value), params
    return _tensor_input(value, served), params


def _split_frame(value: Any, served: Served) -> pd.DataFrame | NumericRows:
    if not isinstance(value, dict) or "data" not in value:
        raise BadRequest("'dataframe_split' must be an object with 'data' (and 'columns')")
    data, columns = value["data"], value.get("columns")
    if columns is not None and not isinstance(columns, list):
        raise BadRequest("'dataframe_split.columns' must be a list of column names")
    if not isinstance(data, list):
        raise BadRequest("'dataframe_split.data' must be a list of rows")
    if served.numeric and data and isinstance(data[0], list):
        block = _numeric_block(data)
        if block is not None and (columns is None or len(columns) == block.shape[1]):
            if served.column_index is not None and tuple(columns or ()) == served.columns:
                return NumericRows(block, served.column_index)
            return pd.DataFrame(block, columns=columns, copy=False)
    widths = {len(row) for row in data if isinstance(row, list)}
    if len(widths) > 1:
        raise BadRequest(
            f"'dataframe_split' does not make a table: rows have {sorted(widths)} values"
        )
    try:
        return pd.DataFrame(data, columns=columns)
    except (ValueError, TypeError) as exc:
        raise BadRequest(f"'dataframe_split' does not make a table: {exc}") from None


def _numeric_block(data: list[Any]) -> np.ndarray[Any, Any] | None:
    try:
        block = np.asarray(data)
    except (ValueError, TypeError):
        return None
    return block if block.ndim == 2 and block.dtype.kind in "if" else None


def _records_frame(value: Any) -> pd.DataFrame:
    if not isinstance(value, list) or not all(isinstance(row, dict) for row in value):
        raise BadRequest("'dataframe_records' must be a list of objects (one per row)")
    return pd.DataFrame(value)


def _tensor_input(value: Any, served: Served) -> Any:
    """``instances``/``inputs``: a table for column-based models, else arrays."""
    if isinstance(value, dict):
        if served.columns is not None:
            try:
                return pd.DataFrame({k: np.atleast_1d(v) for k, v in value.items()})
            except (ValueError, TypeError) as exc:
                raise BadRequest(f"'inputs' columns do not make a table: {exc}") from None
        return {k: _array(v, k) for k, v in value.items()}
    if isinstance(value, list) and value and all(isinstance(row, dict) for row in value):
        if served.columns is not None:
            return pd.DataFrame(value)
        keys = value[0].keys()
        return {k: _array([row.get(k) for row in value], k) for k in keys}
    array = _array(value, "inputs")
    if served.columns is not None and array.ndim == 2 and array.shape[1] == len(served.columns):
        return pd.DataFrame(array, columns=list(served.columns), copy=False)
    return array


def _array(value: Any, what: str) -> np.ndarray[Any, Any]:
    try:
        return np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise BadRequest(f"{what!r} is not a rectangular array: {exc}") from None


def json_default(value: Any) -> Any:
    """orjson's fallback: NumPy object arrays, pandas values and timestamps."""
    if isinstance(value, pd.DataFrame):
        return value.to_dict(orient="records")
    if isinstance(value, np.ndarray | pd.Series):
        return value.tolist()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def jsonable(predictions: Any) -> Any:
    """MLflow's shapes: a frame as records, a series or array as a list, dict by key."""
    if isinstance(predictions, pd.DataFrame):
        return predictions.to_dict(orient="records")
    if isinstance(predictions, pd.Series):
        return predictions.to_numpy()
    if isinstance(predictions, Mapping):
        return {str(k): jsonable(v) for k, v in predictions.items()}
    if isinstance(predictions, np.ndarray) and not predictions.flags.c_contiguous:
        return np.ascontiguousarray(predictions)
    return predictions


_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def encode_predictions(predictions: Any) -> bytes:
    return orjson.dumps(
        {"predictions": jsonable(predictions)}, default=json_default, option=_OPTIONS
    )


def encode_json(payload: Any) -> bytes:
    return orjson.dumps(payload, default=json_default, option=_OPTIONS)
