"""``predict(model_uri, input, output)``: score files of any size, in parallel, resumably.

The input is cut into units (``_plan``); units are scored (``_scoring``: one pipelined process
or forked workers) into numbered part files in ``<output>.parts/`` (or in the output folder
itself); a unit's part appears whole by a rename, so after an interruption ``resume=True`` scores
only the missing units. When every part exists they are streamed, in input order, into the
output file. Memory stays at a few units whatever the size of the input.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from shipyard.batch._plan import Plan, plan_units
from shipyard.batch._scoring import run_units
from shipyard.batch._worker import WorkerSpec, log_writer, part_name
from shipyard.errors import InvalidParameter
from shipyard.models._ref import parse_model_uri

__all__ = ["BatchResult", "predict"]

_JOB_FILE = "_job.json"


@dataclass(frozen=True)
class BatchResult:
    output: Path
    rows: int  # rows scored by this call
    units: int
    skipped_units: int  # already written by an earlier, interrupted run (resume)
    processes: int = 1  # 1: one process, reading, predicting and writing overlapped


def predict(
    model_uri: str,
    input: str | Path,
    output: str | Path,
    *,
    workers: int = 0,
    chunk_rows: int = 250_000,
    resume: bool = False,
    keep_columns: tuple[str, ...] = (),
    trusted: bool = False,
    tracking_uri: str | None = None,
    log_root: str | None = None,
    model_name: str | None = None,
    model_version: str | None = None,
    id_column: str | None = None,
    aggregate_inputs: bool = False,
    on_plan: Callable[[int, int], None] | None = None,  # (units to score, rows estimate)
    on_unit: Callable[[int], None] | None = None,  # rows of each unit done
) -> BatchResult:
    """Score ``input`` (CSV/Parquet file or folder) into ``output`` (.parquet, .csv, folder).

    ``workers``: forked processes of one model thread each, 0 for one per core; 1 scores in
    this process, reading and writing while the model predicts with its own threads.
    """
    if chunk_rows < 1 or workers < 0:
        raise InvalidParameter("chunk_rows must be at least 1 and workers at least 0")
    model_uri, model_version = pin_alias(model_uri, model_version, tracking_uri)
    target = Path(output)
    single = target.suffix in (".parquet", ".csv")
    parts = target.with_name(target.name + ".parts") if single else target
    # a Parquet file smaller than a unit per process is cut finer; a resumed job cuts its input
    # as the first run did, whatever --workers says now
    parallel = (_recorded(parts) if resume else None) or workers or os.cpu_count() or 1
    plan = plan_units(input, chunk_rows, parallel)
    done = _prepare(parts, plan, parallel, resume)
    todo = [u for u in plan.units if u.index not in done]
    ref_name, ref_version = _names(model_uri, model_name, model_version)
    spec = WorkerSpec(
        model_uri, str(parts), plan.csv_header, plan.csv_schema, tuple(keep_columns), trusted,
        tracking_uri, log_root, ref_name, ref_version, uuid.uuid4().hex[:12], id_column,
        aggregate_inputs and log_root is not None,
    )  # fmt: skip
    if spec.aggregate_inputs:  # a model without a reference profile fails now, not in a worker
        log_writer(log_root or "", model_uri, tracking_uri, True).close()
    if on_plan is not None:
        on_plan(len(todo), sum(u.rows for u in todo))
    rows, processes = run_units(spec, todo, workers, on_unit)
    if single:
        _assemble(parts, [u.index for u in plan.units], target)
        shutil.rmtree(parts)
    return BatchResult(target, rows, len(plan.units), len(plan.units) - len(todo), processes)


def pin_alias(uri: str, version: str | None, tracking_uri: str | None) -> tuple[str, str | None]:
    """``models:/name@alias`` -> the version it names now, loaded as ``models:/name/N``: the
    whole job scores (and logs) one version even if the alias moves meanwhile."""
    ref = parse_model_uri(uri)
    if ref.alias is None:
        return uri, version
    from shipyard.client import Client

    pinned = str(Client(tracking_uri).get_model_version_by_alias(ref.name, ref.alias).version)
    return f"models:/{ref.name}/{pinned}", version or pinned


def _names(uri: str, name: str | None, version: str | None) -> tuple[str, str]:
    ref = parse_model_uri(uri, name)
    return ref.name, version or ref.version or "0"


def _recorded(parts: Path) -> int | None:
    """The ``parallel`` an interrupted job planned its units with."""
    job_file = parts / _JOB_FILE
    if not job_file.exists():
        return None
    value = json.loads(job_file.read_text()).get("parallel")
    return value if isinstance(value, int) and value > 0 else None


def _prepare(parts: Path, plan: Plan, parallel: int, resume: bool) -> set[int]:
    """The units already written (resume), after checking they came from the same input."""
    job_file = parts / _JOB_FILE
    if resume and job_file.exists():
        recorded = json.loads(job_file.read_text()).get("fingerprint")
        if recorded != plan.fingerprint:
            raise InvalidParameter(
                f"Cannot resume into {parts}: the input or chunk size changed since the first run"
            )
        return {u.index for u in plan.units if (parts / part_name(u.index)).exists()}
    if parts.exists():
        if any(parts.iterdir()) and not job_file.exists():
            raise InvalidParameter(f"{parts} exists and is not a batch output folder")
        shutil.rmtree(parts)
    parts.mkdir(parents=True)
    record = {"fingerprint": plan.fingerprint, "units": len(plan.units), "parallel": parallel}
    job_file.write_text(json.dumps(record))
    return set()


def _assemble(parts: Path, indexes: list[int], target: Path) -> None:
    """Stream the parts, in input order, into one file (row group by row group)."""
    scratch = target.with_name(f".{target.name}.tmp")
    writer: pq.ParquetWriter | pacsv.CSVWriter | None = None
    try:
        for index in indexes:
            part = pq.ParquetFile(parts / part_name(index))
            for group in range(part.metadata.num_row_groups):
                table = part.read_row_group(group)
                if writer is None:
                    writer = (
                        pacsv.CSVWriter(str(scratch), table.schema)
                        if target.suffix == ".csv"
                        else pq.ParquetWriter(str(scratch), table.schema)
                    )
                writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        raise InvalidParameter("The input has no rows")
    scratch.replace(target)
