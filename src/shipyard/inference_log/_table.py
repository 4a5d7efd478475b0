"""Turning logged requests into one Arrow table per partition (runs on the writer's thread)."""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from shipyard.inference_log._format import BASE_SCHEMA, FORMAT_VERSION, METADATA_KEY

__all__ = ["InputAggregator", "Privacy", "ProbaFn", "Record", "build_tables", "input_frame"]

_log = logging.getLogger("shipyard.inference_log")

# ``proba(inputs) -> (classes, matrix)``: class probabilities of a batch, computed here (off the
# request path) for many requests at once.
ProbaFn = Callable[[Any], tuple[Sequence[Any], Any]]

# ``aggregate(model_name, model_version, inputs, start, end) -> summary``: a JSON-able summary of
# one flush's inputs (columns named ``in.<column>``) between two epoch times, or None to write
# nothing. The log stores it as given; ``shipyard.monitoring.InputProfiler`` makes mergeable
# drift sketches. Given by the layer that knows the model (the server, batch scoring).
InputAggregator = Callable[[str, str, pd.DataFrame, float, float], Mapping[str, Any] | None]


@dataclass(frozen=True, slots=True)
class Privacy:
    """Which inputs reach the log's rows: none at all, or some columns only as salted sha256
    hashes; ``aggregates``: no raw value at all (hashed columns still as hashes), the inputs
    being summarized per flush in the aggregates files instead."""

    log_inputs: bool = True
    hash_columns: frozenset[str] = frozenset()
    salt: str = ""
    aggregates: bool = False

    def hash(self, values: pd.Series) -> list[str | None]:
        salt = self.salt.encode()
        return [
            None if _missing(v) else hashlib.sha256(salt + str(v).encode()).hexdigest()
            for v in values.tolist()
        ]


@dataclass(slots=True)
class Record:
    """One request (or one batch chunk): ``rows`` predicted rows sharing these fields."""

    request_id: str | Sequence[str]
    time: float  # epoch seconds
    model_name: str
    model_version: str
    source: str
    latency_ms: float
    status: str
    error: str | None
    inputs: Any
    outputs: Any
    rows: int
    proba: ProbaFn | None = None


def build_tables(records: list[Record], privacy: Privacy) -> list[pa.Table]:
    """The rows of ``records`` in format v1 (base columns, ``in.*``, ``out.*``).

    Failed requests are built apart from answered ones, so that their missing outputs do not
    turn an integer prediction column into floats (Arrow fills the gaps with nulls). When a
    failed request's inputs have other types than the answered ones (text where numbers were
    expected, usually why it failed), the two go to separate files rather than lose the value."""
    ok = [r for r in records if r.status == "ok"]
    failed = [r for r in records if r.status != "ok"]
    tables = [_table(part, privacy) for part in (ok, failed) if part]
    with contextlib.suppress(pa.ArrowInvalid, pa.ArrowTypeError):
        tables = [pa.concat_tables(tables, promote_options="permissive")]
    return [t.replace_schema_metadata({METADATA_KEY: FORMAT_VERSION.encode()}) for t in tables]


def _table(records: list[Record], privacy: Privacy) -> pa.Table:
    parts = [_base(records), *_inputs(records, privacy), *_outputs(records)]
    frame = pd.concat(parts, axis=1)
    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # an object column mixing types: as text
        mixed = [c for c in frame.columns if frame[c].dtype == object]
        frame[mixed] = frame[mixed].astype("string")
        table = pa.Table.from_pandas(frame, preserve_index=False)
    for index, field in enumerate(BASE_SCHEMA):
        table = table.set_column(index, field, table.column(index).cast(field.type))
    return table


def _base(records: list[Record]) -> pd.DataFrame:
    counts = np.fromiter((r.rows for r in records), dtype=np.int64, count=len(records))
    request_ids: list[str] = []
    for record in records:
        if isinstance(record.request_id, str):
            request_ids.extend([record.request_id] * record.rows)
        else:
            request_ids.extend(record.request_id)
    micros = np.array([int(r.time * 1_000_000) for r in records], dtype="datetime64[us]")

    def repeat(values: list[Any]) -> np.ndarray[Any, Any]:
        return np.repeat(np.array(values, dtype=object), counts)

    return pd.DataFrame(
        {
            "request_id": request_ids,
            "timestamp": pd.DatetimeIndex(np.repeat(micros, counts)).tz_localize("UTC"),
            "model_name": repeat([r.model_name for r in records]),
            "model_version": repeat([r.model_version for r in records]),
            "source": repeat([r.source for r in records]),
            "latency_ms": np.repeat([float(r.latency_ms) for r in records], counts),
            "status": repeat([r.status for r in records]),
            "error": repeat([r.error for r in records]),
        }
    )


def _inputs(records: list[Record], privacy: Privacy) -> list[pd.DataFrame]:
    if not privacy.log_inputs:
        return []
    joined = input_frame(records)
    if joined is None:
        return []
    columns: dict[str, Any] = {}
    for name in joined.columns:
        key = str(name)
        if key in privacy.hash_columns:
            columns[f"in_hash.{key}"] = privacy.hash(joined[name])
        elif not privacy.aggregates:
            columns[f"in.{key}"] = joined[name].to_numpy()
    return [pd.DataFrame(columns, index=range(len(joined)))] if columns else []


def input_frame(records: list[Record]) -> pd.DataFrame | None:
    """The records' inputs as one frame (original column names), None when they have none."""
    joined = _stacked([r.inputs for r in records])
    if joined is None:
        frames = [_as_frame(r.inputs, r.rows) for r in records]
        if all(f.shape[1] == 0 for f in frames):
            return None
        joined = pd.concat(frames, ignore_index=True)
    return joined


def _outputs(records: list[Record]) -> list[pd.DataFrame]:
    parts: list[pd.DataFrame] = []
    outputs = [r.outputs for r in records]
    if all(isinstance(o, np.ndarray) and o.ndim == 1 for o in outputs):
        parts.append(pd.DataFrame({"out.prediction": np.concatenate(outputs)}))
    else:
        frames = [_as_frame(r.outputs, r.rows, prediction=True) for r in records]
        if any(f.shape[1] for f in frames):
            joined = pd.concat(frames, ignore_index=True)
            joined.columns = [f"out.{c}" for c in joined.columns]
            parts.append(joined)
    proba = _probabilities(records)
    if proba is not None:
        parts.append(proba)
    return parts


def _probabilities(records: list[Record]) -> pd.DataFrame | None:
    """Class probabilities for the ok records whose model has them, in one call per model."""
    fn = next((r.proba for r in records if r.proba is not None and r.status == "ok"), None)
    if fn is None:
        return None
    offsets = np.cumsum([0] + [r.rows for r in records])
    chosen = [i for i, r in enumerate(records) if r.proba is fn and r.status == "ok"]
    try:
        batch = _stacked([records[i].inputs for i in chosen])
        if batch is None:
            frames = [_as_frame(records[i].inputs, records[i].rows) for i in chosen]
            batch = pd.concat(frames, ignore_index=True)
        classes, matrix = fn(batch)
        matrix = np.asarray(matrix, dtype=np.float64)
    except Exception as exc:  # the log must never fail a request; say why it lacks them
        _log.warning("inference log: class probabilities not computed: %s", exc)
        return None
    total = int(offsets[-1])
    full = np.full((total, matrix.shape[1]), np.nan)
    position = 0
    for i in chosen:
        rows = records[i].rows
        full[offsets[i] : offsets[i] + rows] = matrix[position : position + rows]
        position += rows
    return pd.DataFrame(full, columns=[f"out.proba.{c}" for c in classes])


def _stacked(inputs: list[Any]) -> pd.DataFrame | None:
    """Many frames of one dtype and the same columns (one-row requests, typically) stacked as
    one NumPy block: 100x cheaper than concatenating them as frames. None when they differ."""
    first = inputs[0]
    if not isinstance(first, pd.DataFrame) or len(first._mgr.blocks) != 1:
        return None
    columns, dtype = first.columns, first.dtypes.iloc[0] if first.shape[1] else None
    if dtype is None or not isinstance(dtype, np.dtype) or dtype.kind not in "biuf":
        return None
    blocks = []
    for frame in inputs:
        if not isinstance(frame, pd.DataFrame) or not frame.columns.equals(columns):
            return None
        block = frame.to_numpy()
        if block.dtype != dtype:
            return None
        blocks.append(block)
    return pd.DataFrame(np.vstack(blocks), columns=[str(c) for c in columns])


def _as_frame(data: Any, rows: int, prediction: bool = False) -> pd.DataFrame:
    """Any predict() input or output as a frame of ``rows`` rows (no columns when absent)."""
    index = pd.RangeIndex(rows)
    if data is None:
        return pd.DataFrame(index=index)
    if isinstance(data, pd.DataFrame):
        frame = data.reset_index(drop=True)
        frame.columns = [str(c) for c in frame.columns]
        return frame
    if isinstance(data, pd.Series):
        name = "prediction" if prediction or data.name is None else str(data.name)
        return pd.DataFrame({name: data.to_numpy()}, index=index)
    if isinstance(data, Mapping):
        return pd.DataFrame({str(k): _column(v, rows) for k, v in data.items()}, index=index)
    array = np.asarray(data)
    if array.ndim <= 1:
        name = "prediction" if prediction else "0"
        return pd.DataFrame({name: array.reshape(-1)}, index=index)
    if array.ndim == 2:
        return pd.DataFrame(array, columns=[str(i) for i in range(array.shape[1])], index=index)
    return pd.DataFrame({"0": _column(array, rows)}, index=index)


def _column(value: Any, rows: int) -> Any:
    array = np.asarray(value)
    if array.ndim == 1 and len(array) == rows:
        return array
    if array.ndim >= 2 and len(array) == rows:
        return [row.tolist() for row in array]
    return [array.tolist()] * rows


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))
