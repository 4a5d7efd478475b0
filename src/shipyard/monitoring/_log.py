"""Reading the inference log (format v1) for a model, a version and a time range.

``shipyard.inference_log.read_inference_log`` is the owner's reader; while it does not exist this
module reads the same layout itself with ``pyarrow.dataset`` (Hive-style partitions, names
percent-quoted). Only the files of the wanted model, version and dates are opened, and the
timestamp range is pushed down to the Parquet row groups.
"""

from __future__ import annotations

import datetime as dt
import importlib
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from shipyard._text import is_decimal
from shipyard.errors import InvalidParameter
from shipyard.settings import S3Settings

__all__ = ["list_versions", "read_log", "to_utc"]

BASE_COLUMNS = (
    "request_id",
    "timestamp",
    "model_name",
    "model_version",
    "source",
    "latency_ms",
    "status",
    "error",
)


def to_utc(value: dt.datetime | str | None) -> dt.datetime | None:
    """A timezone-aware UTC datetime (naive values are taken as UTC; ISO strings accepted)."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise InvalidParameter(f"{value!r} is not an ISO 8601 date or time") from None
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def read_log(
    root: str | Path,
    model: str,
    version: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    s3: S3Settings | None = None,
) -> pd.DataFrame:
    """Rows of ``model`` (optionally one ``version``) with ``since <= timestamp < until``."""
    owner = _owner_reader()
    if owner is not None:
        frame: pd.DataFrame = owner(
            root, model=model, version=version, since=since, until=until, s3=s3
        )
        return frame
    return _read_own(str(root), model, version, since, until, s3)


def list_versions(root: str | Path, model: str, s3: S3Settings | None = None) -> list[str]:
    """The model versions that have a partition folder under ``root``."""
    fs, base = _filesystem(str(root), s3)
    folder = f"{base}/model={quote(model, safe='')}"
    infos = fs.get_file_info(pafs.FileSelector(folder, allow_not_found=True))
    names = [unquote(Path(i.path).name[len("version=") :]) for i in infos if _is_dir(i, "version=")]
    return sorted(names, key=_version_key)


def _owner_reader() -> Any:
    try:
        module = importlib.import_module("shipyard.inference_log")
    except ImportError:
        return None
    return getattr(module, "read_inference_log", None)


def _read_own(
    root: str,
    model: str,
    version: str | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
    s3: S3Settings | None,
) -> pd.DataFrame:
    fs, base = _filesystem(root, s3)
    versions = [version] if version is not None else list_versions(root, model, s3)
    paths: list[str] = []
    for ver in versions:
        folder = f"{base}/model={quote(model, safe='')}/version={quote(ver, safe='')}"
        for info in fs.get_file_info(pafs.FileSelector(folder, allow_not_found=True)):
            if _is_dir(info, "date=") and _date_in_range(info.path, since, until):
                selector = pafs.FileSelector(info.path, recursive=True)
                paths += [
                    f.path
                    for f in fs.get_file_info(selector)
                    if f.type == pafs.FileType.File and f.path.endswith(".parquet")
                ]
    if not paths:
        return pd.DataFrame({c: pd.Series(dtype=_empty_dtype(c)) for c in BASE_COLUMNS})
    tables = [_read_file(fs, p, since, until) for p in sorted(paths)]
    table = pa.concat_tables(tables, promote_options="permissive")
    frame: pd.DataFrame = table.to_pandas()
    return frame.sort_values("timestamp", kind="stable", ignore_index=True)


def _read_file(
    fs: pafs.FileSystem, path: str, since: dt.datetime | None, until: dt.datetime | None
) -> pa.Table:
    dataset = ds.dataset(path, filesystem=fs, format="parquet")
    condition = None
    if since is not None:
        condition = ds.field("timestamp") >= pa.scalar(since, pa.timestamp("us", tz="UTC"))
    if until is not None:
        upper = ds.field("timestamp") < pa.scalar(until, pa.timestamp("us", tz="UTC"))
        condition = upper if condition is None else condition & upper
    return dataset.to_table(filter=condition)


def _date_in_range(path: str, since: dt.datetime | None, until: dt.datetime | None) -> bool:
    try:
        day = dt.date.fromisoformat(Path(path).name[len("date=") :])
    except ValueError:
        return False
    if since is not None and day < since.astimezone(dt.UTC).date():
        return False
    return not (until is not None and day > until.astimezone(dt.UTC).date())


def _filesystem(root: str, s3: S3Settings | None) -> tuple[pafs.FileSystem, str]:
    try:  # the log's owner knows S3 endpoints and keys
        from shipyard.inference_log._fs import open_root
    except ImportError:
        pass
    else:
        return open_root(root, s3)
    if "://" in root:
        fs, path = pafs.FileSystem.from_uri(root)
        return fs, path.rstrip("/")
    return pafs.LocalFileSystem(), str(Path(root).resolve())


def _is_dir(info: pafs.FileInfo, prefix: str) -> bool:
    return bool(info.type == pafs.FileType.Directory and Path(info.path).name.startswith(prefix))


def _version_key(version: str) -> tuple[int, str]:
    return (int(version), "") if is_decimal(version) else (1 << 62, version)


def _empty_dtype(column: str) -> Any:
    if column == "timestamp":
        return pd.DatetimeTZDtype("us", "UTC")
    return "float64" if column == "latency_ms" else "object"
