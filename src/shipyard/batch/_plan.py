"""Cutting an input into units of work: row-group ranges of Parquet, byte ranges of CSV.

A unit is small enough to hold in memory (about ``chunk_rows`` rows) and is scored and written
whole, as one part file, so a re-run with ``--resume`` skips exactly the units already written.
CSV files are split at line ends; a quoted field that spans lines is not supported in a split
file (the unit holding it fails with the parser's message).
"""

from __future__ import annotations

import hashlib
import itertools
import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from shipyard.errors import InvalidParameter

__all__ = ["Plan", "Unit", "plan_units"]

_CSV_BYTES_PER_ROW_GUESS = 64


@dataclass(frozen=True, slots=True)
class Unit:
    index: int
    path: str
    kind: str  # "parquet" | "csv"
    row_groups: tuple[int, ...] = ()  # parquet: the row groups read ...
    start: int = 0  # ... and the slice of their rows (csv: the byte range)
    stop: int = -1
    rows: int = 0  # known for parquet; an estimate for csv


@dataclass(frozen=True, slots=True)
class Plan:
    units: list[Unit]
    csv_header: dict[str, bytes]  # path -> header line
    csv_schema: pa.Schema | None  # column types from the first block of the first CSV
    fingerprint: str  # what the input was: resuming against another input is refused


def _files(source: Path) -> list[Path]:
    if source.is_dir():
        found = sorted(
            p
            for p in source.rglob("*")
            if p.is_file()
            and p.suffix in (".parquet", ".csv")
            and not p.name.startswith((".", "_"))
        )
        if not found:
            raise InvalidParameter(f"{source} holds no .parquet or .csv files")
        return found
    if not source.exists():
        raise InvalidParameter(f"Input {source} does not exist")
    return [source]


def _kind(path: Path) -> str:
    if path.suffix == ".csv":
        return "csv"
    if path.suffix in (".parquet", ".pq"):
        return "parquet"
    raise InvalidParameter(f"Cannot tell the format of {path}: name it .csv or .parquet")


def plan_units(source: str | Path, chunk_rows: int, parallel: int) -> Plan:
    files = _files(Path(source))
    units: list[Unit] = []
    headers: dict[str, bytes] = {}
    schema: pa.Schema | None = None
    digest = hashlib.sha256(f"{chunk_rows}".encode())
    for path in files:
        stat = path.stat()
        digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}".encode())
        if _kind(path) == "parquet":
            units.extend(_parquet_units(path, chunk_rows, parallel, len(units)))
        else:
            header, file_units = _csv_units(path, chunk_rows, len(units))
            headers[str(path)] = header
            units.extend(file_units)
            if schema is None:
                schema = _csv_schema(path)
    return Plan(units, headers, schema, digest.hexdigest())


def _parquet_units(path: Path, chunk_rows: int, parallel: int, first: int) -> list[Unit]:
    meta = pq.ParquetFile(path).metadata
    units: list[Unit] = []
    group: list[int] = []
    rows = 0

    def close() -> None:
        nonlocal group, rows
        if group:
            units.append(
                Unit(first + len(units), str(path), "parquet", tuple(group), 0, rows, rows)
            )
        group, rows = [], 0

    total = meta.num_rows
    # a row group bigger than a unit is read by several units, each keeping its own slice
    target = max(1, min(chunk_rows, -(-total // max(1, parallel))))
    for index in range(meta.num_row_groups):
        size = meta.row_group(index).num_rows
        if size > target:
            close()
            for start in range(0, size, target):
                stop = min(size, start + target)
                units.append(
                    Unit(
                        first + len(units),
                        str(path),
                        "parquet",
                        (index,),
                        start,
                        stop,
                        stop - start,
                    )
                )
            continue
        if rows + size > target:
            close()
        group.append(index)
        rows += size
    close()
    return units


def _csv_units(path: Path, chunk_rows: int, first: int) -> tuple[bytes, list[Unit]]:
    size = os.path.getsize(path)
    with path.open("rb") as handle:
        header = handle.readline()
        body_start = handle.tell()
        if not header.strip():
            raise InvalidParameter(f"{path} is empty: a CSV input needs a header line")
        sample = handle.read(1 << 20)
    lines = max(1, sample.count(b"\n"))
    per_row = len(sample) / lines if sample else _CSV_BYTES_PER_ROW_GUESS
    step = max(1 << 16, int(per_row * chunk_rows))
    bounds = [body_start]
    with path.open("rb") as handle:
        position = body_start + step
        while position < size:
            handle.seek(position)
            handle.readline()  # to the end of the line the cut fell into
            cut = handle.tell()
            if cut >= size:
                break
            bounds.append(cut)
            position = cut + step
    bounds.append(size)
    units = [
        Unit(first + i, str(path), "csv", (), a, b, int((b - a) / per_row))
        for i, (a, b) in enumerate(itertools.pairwise(bounds))
        if b > a
    ]
    return header, units


def _csv_schema(path: Path) -> pa.Schema:
    """Column types from the first block, so every unit reads the same columns the same way."""
    reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 20))
    schema: pa.Schema = reader.schema
    reader.close()
    return schema
