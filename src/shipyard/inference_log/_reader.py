"""``read_inference_log``: the rows of a log as one DataFrame, filtered by partition first."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from shipyard.errors import UnsupportedModelFormat
from shipyard.inference_log._format import (
    AGGREGATES_DIR,
    AGGREGATES_SCHEMA,
    BASE_SCHEMA,
    FORMAT_VERSION,
    METADATA_KEY,
    parse_partition,
)
from shipyard.inference_log._fs import open_root
from shipyard.settings import S3Settings

__all__ = ["read_inference_aggregates", "read_inference_log"]


def read_inference_log(
    root: str | Path,
    model: str | None = None,
    version: str | int | None = None,
    since: dt.datetime | str | None = None,
    until: dt.datetime | str | None = None,
    *,
    s3: S3Settings | None = None,
    filesystem: pafs.FileSystem | None = None,
) -> pd.DataFrame:
    """Rows with ``since <= timestamp < until`` (UTC; naive times are taken as UTC)."""
    fs, base = open_root(root, s3, filesystem)
    start, end = _utc(since), _utc(until)
    tables = [_read(fs, path) for path in _files(fs, base, model, version, start, end)]
    if not tables:
        empty: pd.DataFrame = BASE_SCHEMA.empty_table().to_pandas()
        return empty
    try:
        frame: pd.DataFrame = pa.concat_tables(tables, promote_options="permissive").to_pandas()
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # a column with other types in some files
        frame = pd.concat([t.to_pandas() for t in tables], ignore_index=True)
    if start is not None:
        frame = frame[frame["timestamp"] >= start]
    if end is not None:
        frame = frame[frame["timestamp"] < end]
    return frame.sort_values("timestamp", kind="stable").reset_index(drop=True)


def read_inference_aggregates(
    root: str | Path,
    model: str | None = None,
    version: str | int | None = None,
    since: dt.datetime | str | None = None,
    until: dt.datetime | str | None = None,
    *,
    s3: S3Settings | None = None,
    filesystem: pafs.FileSystem | None = None,
) -> pd.DataFrame:
    """The input summaries of an "aggregates only" log whose window overlaps ``[since, until)``:
    ``window_start``, ``window_end``, ``model_name``, ``model_version``, ``rows``,
    ``aggregates`` (JSON text), oldest first."""
    fs, base = open_root(root, s3, filesystem)
    start, end = _utc(since), _utc(until)
    paths = _files(fs, f"{base}/{AGGREGATES_DIR}", model, version, start, end)
    tables = [_read(fs, path) for path in paths]
    if not tables:
        empty: pd.DataFrame = AGGREGATES_SCHEMA.empty_table().to_pandas()
        return empty
    frame: pd.DataFrame = pa.concat_tables(tables).to_pandas()
    if start is not None:
        frame = frame[frame["window_end"] >= start]
    if end is not None:
        frame = frame[frame["window_start"] < end]
    return frame.sort_values("window_start", kind="stable").reset_index(drop=True)


def _files(
    fs: pafs.FileSystem,
    base: str,
    model: str | None,
    version: str | int | None,
    start: pd.Timestamp | None,
    end: pd.Timestamp | None,
) -> list[str]:
    found: list[str] = []
    for model_dir in _children(fs, base, "model", None if model is None else str(model)):
        for version_dir in _children(fs, model_dir, "version", _opt(version)):
            for date_dir in _children(fs, version_dir, "date", None):
                day = dt.date.fromisoformat(str(parse_partition(_name(date_dir), "date")))
                if start is not None and day < start.date():
                    continue
                if end is not None and day > end.date():
                    continue
                found.extend(_parts(fs, date_dir))
    return sorted(found)


def _children(fs: pafs.FileSystem, folder: str, key: str, wanted: str | None) -> list[str]:
    try:
        infos = fs.get_file_info(pafs.FileSelector(folder, allow_not_found=True))
    except (FileNotFoundError, NotADirectoryError):
        return []
    result = []
    for info in infos:
        value = parse_partition(_name(info.path), key)
        is_dir = info.type == pafs.FileType.Directory
        if is_dir and value is not None and (wanted is None or value == wanted):
            result.append(info.path)
    return result


def _parts(fs: pafs.FileSystem, folder: str) -> list[str]:
    infos = fs.get_file_info(pafs.FileSelector(folder, allow_not_found=True))
    return [
        i.path
        for i in infos
        if i.type == pafs.FileType.File
        and i.path.endswith(".parquet")
        and not _name(i.path).startswith((".", "_"))
    ]


def _read(fs: pafs.FileSystem, path: str) -> pa.Table:
    table = pq.read_table(path, filesystem=fs)
    version = (table.schema.metadata or {}).get(METADATA_KEY, b"").decode()
    if version != FORMAT_VERSION:
        raise UnsupportedModelFormat(
            f"{path} is inference log format {version or '(none)'}; this Shipyard reads "
            f"format {FORMAT_VERSION}"
        )
    return table


def _name(path: str) -> str:
    return path.rstrip("/").rpartition("/")[2]


def _opt(value: Any) -> str | None:
    return None if value is None else str(value)


def _utc(value: dt.datetime | str | None) -> pd.Timestamp | None:
    if value is None:
        return None
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
