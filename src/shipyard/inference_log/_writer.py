"""``InferenceLogWriter``: append predictions without slowing the request that made them.

``log()`` only puts a reference on a bounded in-memory queue (a few microseconds); a background
thread turns batches of records into Parquet files, one per model version and day (and, with an
``input_aggregator``, one summary of the inputs per model version and hour instead of the raw
input values). When the
queue is full the record is dropped, counted in ``dropped`` and reported in the process log:
answering the request matters more than logging it. ``close()`` writes everything still queued.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from shipyard.errors import InvalidParameter
from shipyard.inference_log._format import (
    AGGREGATES_SCHEMA,
    FORMAT_VERSION,
    METADATA_KEY,
    SOURCES,
    aggregates_path,
    part_path,
)
from shipyard.inference_log._fs import open_root
from shipyard.inference_log._table import (
    InputAggregator,
    Privacy,
    ProbaFn,
    Record,
    build_tables,
    input_frame,
)
from shipyard.settings import S3Settings

__all__ = ["InferenceLogWriter"]

_log = logging.getLogger("shipyard.inference_log")
_DROP_REPORT_INTERVAL = 10.0  # seconds between two "dropping records" warnings


class InferenceLogWriter:
    """Writes inference log format v1 under ``root`` (a folder or ``s3://bucket/prefix``)."""

    def __init__(
        self,
        root: str | Path,
        *,
        max_queue_rows: int = 200_000,
        flush_rows: int = 50_000,
        flush_interval: float = 2.0,
        log_inputs: bool = True,
        hash_columns: Iterable[str] = (),
        salt: str = "",
        input_aggregator: InputAggregator | None = None,
        s3: S3Settings | None = None,
        filesystem: pafs.FileSystem | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_queue_rows < 1 or flush_rows < 1 or flush_interval <= 0:
            raise InvalidParameter("max_queue_rows, flush_rows and flush_interval must be > 0")
        self.root = str(root)
        self._fs, self._base = open_root(root, s3, filesystem)
        self._local = isinstance(self._fs, pafs.LocalFileSystem)
        self._privacy = Privacy(
            log_inputs, frozenset(hash_columns), salt, aggregates=input_aggregator is not None
        )
        self._aggregate = input_aggregator
        self._max_rows = max_queue_rows
        self._flush_rows = flush_rows
        self._interval = flush_interval
        self._clock = clock
        self._cond = threading.Condition()
        self._pending: list[Record] = []
        self._pending_rows = 0
        self._requested = 0  # flush generations asked for / completed
        self._completed = 0
        self._closing = False
        self._last_drop_report = 0.0
        self.dropped = 0  # rows
        self.written = 0  # rows
        self.files = 0
        self.write_errors = 0
        self._thread = threading.Thread(target=self._run, name="inference-log", daemon=True)
        self._thread.start()

    # -- the request path -----------------------------------------------------------------------
    def log(
        self,
        *,
        model_name: str,
        model_version: str,
        source: str,
        request_id: str | Sequence[str],
        inputs: Any = None,
        outputs: Any = None,
        latency_ms: float = 0.0,
        rows: int | None = None,
        status: str = "ok",
        error: str | None = None,
        timestamp: float | None = None,
        proba: ProbaFn | None = None,
    ) -> bool:
        """Queue one request's rows; False when the queue was full and they were dropped."""
        if source not in SOURCES:
            raise InvalidParameter(f"source must be one of {SOURCES}, not {source!r}")
        count = rows if rows is not None else _rows(inputs, outputs)
        record = Record(
            request_id, self._clock() if timestamp is None else timestamp, model_name,
            str(model_version), source, latency_ms, status, error, inputs, outputs, count, proba,
        )  # fmt: skip
        with self._cond:
            if self._closing or self._pending_rows + count > self._max_rows:
                self.dropped += count
                self._report_drop()
                return False
            self._pending.append(record)
            self._pending_rows += count
            if self._pending_rows >= self._flush_rows:
                self._cond.notify_all()
        return True

    @property
    def queued_rows(self) -> int:
        return self._pending_rows

    # -- flushing -------------------------------------------------------------------------------
    def flush(self, timeout: float | None = None) -> None:
        """Block until everything queued before this call is written."""
        with self._cond:
            self._requested += 1
            wanted = self._requested
            self._cond.notify_all()
            self._cond.wait_for(lambda: self._completed >= wanted, timeout)

    def close(self, timeout: float | None = 60.0) -> None:
        """Write what is queued, then stop the thread; later ``log()`` calls are dropped."""
        with self._cond:
            if self._closing:
                return
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout)

    def __enter__(self) -> InferenceLogWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- the writer thread ----------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(self._due, self._interval)
                batch, self._pending, self._pending_rows = self._pending, [], 0
                generation, closing = self._requested, self._closing
            if batch:
                self._write(batch)
            with self._cond:
                self._completed = max(self._completed, generation)
                self._cond.notify_all()
                if closing and not self._pending:
                    return

    def _due(self) -> bool:
        return (
            self._closing
            or self._pending_rows >= self._flush_rows
            or self._requested > self._completed
        )

    def _write(self, batch: list[Record]) -> None:
        groups: dict[tuple[str, str, dt.date], list[Record]] = {}
        for record in batch:
            day = dt.datetime.fromtimestamp(record.time, dt.UTC).date()
            groups.setdefault((record.model_name, record.model_version, day), []).append(record)
        for (model, version, day), records in groups.items():
            rows = sum(r.rows for r in records)
            try:
                self._write_file(model, version, day, records)
            except Exception as exc:  # a full disk or a lost bucket must not stop serving
                self.write_errors += 1
                self.dropped += rows
                _log.error("inference log: could not write %d rows: %s", rows, exc)
            else:
                self.written += rows
                self.files += 1
        if self._aggregate is not None:
            self._write_aggregates(batch)

    def _write_file(self, model: str, version: str, day: dt.date, records: list[Record]) -> None:
        for table in build_tables(records, self._privacy):
            self._publish(table, part_path(model, version, day, dt.datetime.now(dt.UTC)))

    def _publish(self, table: pa.Table, relative: str) -> None:
        path = f"{self._base}/{relative}"
        folder, _, name = path.rpartition("/")
        self._fs.create_dir(folder, recursive=True)
        if not self._local:  # an object store publishes an object whole
            pq.write_table(table, path, filesystem=self._fs)
            return
        scratch = f"{folder}/.{name}.tmp"  # readers skip dot files; a rename publishes it
        pq.write_table(table, scratch, filesystem=self._fs)
        self._fs.move(scratch, path)

    def _write_aggregates(self, batch: list[Record]) -> None:
        """One summary of the inputs per model version and hour of this flush."""
        assert self._aggregate is not None
        groups: dict[tuple[str, str, int], list[Record]] = {}
        for record in batch:
            if record.status == "ok":
                hour = int(record.time // 3600)
                groups.setdefault((record.model_name, record.model_version, hour), []).append(
                    record
                )
        for (model, version, _), records in groups.items():
            try:
                self._write_summary(model, version, records)
            except Exception as exc:  # a summary that fails must not stop the rows or serving
                self.write_errors += 1
                _log.error("inference log: could not write input aggregates: %s", exc)

    def _write_summary(self, model: str, version: str, records: list[Record]) -> None:
        assert self._aggregate is not None
        inputs = input_frame(records)
        if inputs is None:
            return
        hashed = self._privacy.hash_columns
        inputs = inputs[[c for c in inputs.columns if str(c) not in hashed]]
        inputs.columns = [f"in.{c}" for c in inputs.columns]
        start, end = min(r.time for r in records), max(r.time for r in records)
        summary = self._aggregate(model, version, inputs, start, end)
        if summary is None:
            return
        table = pa.table(
            {
                "window_start": [int(start * 1_000_000)],
                "window_end": [int(end * 1_000_000)],
                "model_name": [model],
                "model_version": [version],
                "rows": [len(inputs)],
                "aggregates": [json.dumps(summary, separators=(",", ":"))],
            }
        ).cast(AGGREGATES_SCHEMA)
        table = table.replace_schema_metadata({METADATA_KEY: FORMAT_VERSION.encode()})
        day = dt.datetime.fromtimestamp(start, dt.UTC).date()
        self._publish(table, aggregates_path(model, version, day, dt.datetime.now(dt.UTC)))

    def _report_drop(self) -> None:
        now = time.monotonic()
        if now - self._last_drop_report >= _DROP_REPORT_INTERVAL:
            self._last_drop_report = now
            _log.warning(
                "inference log cannot keep up (or is closed): %d rows dropped so far", self.dropped
            )


def _rows(inputs: Any, outputs: Any) -> int:
    for data in (outputs, inputs):
        if data is None:
            continue
        if isinstance(data, dict):
            first = next(iter(data.values()), None)
            return len(first) if hasattr(first, "__len__") else 1  # type: ignore[arg-type]
        if hasattr(data, "__len__"):
            return max(1, len(data))
    return 1
