"""Scoring one unit: read it, predict, write its part file atomically, log it.

Runs in the job's process (the three steps overlapped by ``_job``'s pipeline) or in forked
worker processes, each holding one loaded model and one unit in memory at a time.
"""

from __future__ import annotations

import io
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from shipyard.batch._plan import Unit
from shipyard.inference_log import InferenceLogWriter
from shipyard.models import PyFuncModel

__all__ = [
    "WorkerSpec",
    "close_worker",
    "init_worker",
    "log_writer",
    "part_name",
    "read_unit",
    "score_unit",
    "to_table",
    "write_unit",
]


@dataclass(frozen=True)
class WorkerSpec:
    model_uri: str
    parts: str  # the folder of part files
    csv_header: dict[str, bytes]
    csv_schema: pa.Schema | None
    keep_columns: tuple[str, ...] = ()
    trusted: bool = False
    tracking_uri: str | None = None
    log_root: str | None = None
    model_name: str = "model"
    model_version: str = "0"
    job_id: str = "job"
    id_column: str | None = None
    aggregate_inputs: bool = False  # the log keeps no raw input: summaries (see inference_log)


def log_writer(
    root: str,
    model_uri: str,
    tracking_uri: str | None,
    aggregate_inputs: bool,
    **options: Any,
) -> InferenceLogWriter:
    """The job's inference log; with ``aggregate_inputs`` input summaries on the model's
    reference profile replace the raw inputs (a model without one is refused here)."""
    aggregator = None
    if aggregate_inputs:
        from shipyard.monitoring import InputProfiler, load_reference

        reference = load_reference(model_uri, tracking_uri=tracking_uri)
        aggregator = InputProfiler(lambda model, version: reference)
    return InferenceLogWriter(root, input_aggregator=aggregator, **options)


class _Worker:
    """What a worker process keeps between units."""

    def __init__(self, spec: WorkerSpec, model: PyFuncModel | None = None) -> None:
        from shipyard.pyfunc import load_model

        self.spec = spec
        self.read_threads = True
        self.model = model or load_model(
            spec.model_uri, spec.trusted, tracking_uri=spec.tracking_uri
        )
        self.writer = (  # flushed after each unit: the queue only ever holds one unit
            log_writer(
                spec.log_root,
                spec.model_uri,
                spec.tracking_uri,
                spec.aggregate_inputs,
                max_queue_rows=1 << 40,
                flush_rows=1 << 40,
                flush_interval=60,
            )
            if spec.log_root
            else None
        )


_current: _Worker | None = None


def init_worker(spec: WorkerSpec, model: PyFuncModel | None = None, threads: int = 0) -> None:
    """Load the model once per process; ``threads`` > 0 caps its BLAS/OpenMP threads (with
    several worker processes, one thread each beats processes fighting over the cores)."""
    global _current
    if threads > 0:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    if _current is not None and _current.writer is not None:
        _current.writer.close()
    _current = _Worker(spec, model)
    _current.read_threads = threads != 1  # one thread each: reading too


def close_worker() -> None:
    global _current
    if _current is not None and _current.writer is not None:
        _current.writer.close()
    _current = None


def part_name(index: int) -> str:
    return f"part-{index:06d}.parquet"


def score_unit(unit: Unit) -> int:
    """Score ``unit`` into its part file; returns the number of rows."""
    assert _current is not None, "init_worker() first"
    started = time.perf_counter()
    frame = read_unit(unit, _current.spec, _current.read_threads)
    return write_unit(unit, frame, _current.model.predict(frame), started)


def read_unit(unit: Unit, spec: WorkerSpec, threads: bool = True) -> pd.DataFrame:
    """The unit's rows; ``threads``: pyarrow may parse on all cores."""
    if unit.kind == "parquet":
        file = pq.ParquetFile(unit.path)
        table = file.read_row_groups(list(unit.row_groups), use_threads=threads)
        if unit.stop >= 0 and (unit.start, unit.stop) != (0, table.num_rows):
            table = table.slice(unit.start, unit.stop - unit.start)
        return _frame(table)
    with open(unit.path, "rb") as handle:
        handle.seek(unit.start)
        body = handle.read(unit.stop - unit.start)
    data = spec.csv_header[unit.path] + body
    reading = pacsv.ReadOptions(use_threads=threads)
    try:
        options = pacsv.ConvertOptions(column_types=spec.csv_schema)
        table = pacsv.read_csv(io.BytesIO(data), read_options=reading, convert_options=options)
    except pa.ArrowInvalid:  # a column typed by the first block holds other values here
        table = pacsv.read_csv(io.BytesIO(data), read_options=reading)
    return _frame(table)


def write_unit(unit: Unit, frame: pd.DataFrame, predictions: Any, started: float) -> int:
    """Write ``unit``'s part file atomically and log its rows; ``started``: when its read began."""
    assert _current is not None, "init_worker() first"
    worker, spec = _current, _current.spec
    table = to_table(predictions, len(frame))
    for name in reversed(spec.keep_columns):
        table = table.add_column(0, name, pa.array(frame[name]))
    final = Path(spec.parts) / part_name(unit.index)
    scratch = final.with_name(f".{final.name}.tmp")
    pq.write_table(table, scratch)
    os.replace(scratch, final)  # the part exists whole or not at all
    if worker.writer is not None:
        _log(worker.writer, spec, unit, frame, predictions, time.perf_counter() - started)
    return len(frame)


def _frame(table: pa.Table) -> pd.DataFrame:
    frame: pd.DataFrame = table.to_pandas()
    return frame


def to_table(predictions: Any, rows: int) -> pa.Table:
    """Predictions as columns: ``prediction``, one per output name, or ``prediction_<i>``."""
    if isinstance(predictions, pd.DataFrame):
        return pa.Table.from_pandas(predictions.reset_index(drop=True), preserve_index=False)
    if isinstance(predictions, pd.Series):
        return pa.table({"prediction": predictions.to_numpy()})
    if isinstance(predictions, dict):
        return pa.table({str(k): np.asarray(v) for k, v in predictions.items()})
    array = np.asarray(predictions)
    if array.ndim == 2:
        return pa.table({f"prediction_{i}": array[:, i] for i in range(array.shape[1])})
    return pa.table({"prediction": array.reshape(rows, -1)[:, 0] if array.ndim > 1 else array})


def _log(
    writer: InferenceLogWriter,
    spec: WorkerSpec,
    unit: Unit,
    frame: pd.DataFrame,
    predictions: Any,
    seconds: float,
) -> None:
    if spec.id_column is not None:
        ids: list[str] = frame[spec.id_column].astype(str).tolist()
    else:
        ids = [f"{spec.job_id}-{unit.index}-{i}" for i in range(len(frame))]
    writer.log(
        model_name=spec.model_name,
        model_version=spec.model_version,
        source="batch",
        request_id=ids,
        inputs=frame,
        outputs=predictions,
        latency_ms=seconds * 1000,
        rows=len(frame),
    )
    writer.flush()
