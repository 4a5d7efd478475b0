"""Run artifacts from the SDK: files, folders, text, dicts, figures and tables, listed and
downloaded.

Against a tracking server, transfers go through its proxy on the ``RestStore``'s own keep-alive
connection pool; ``s3://`` artifact URIs (a server run with ``--no-serve-artifacts``) are reached
directly with the client's S3 settings.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

import httpx
import yaml

from shipyard import artifacts
from shipyard.artifacts import FileInfo, TransferProgress, normalize_artifact_path
from shipyard.client._backend import is_remote
from shipyard.client._client import Client
from shipyard.client._rest import RestStore
from shipyard.client._tables import (
    LOGGED_ARTIFACTS_TAG,
    append_rows,
    as_frame,
    read_table,
    tag_with_table,
)
from shipyard.client._tables import write_table as table_bytes
from shipyard.errors import FeatureNotImplemented, InvalidParameter

__all__ = [
    "download_run_artifacts",
    "list_run_artifacts",
    "log_run_artifact",
    "log_run_artifacts",
    "log_run_dict",
    "log_run_figure",
    "log_run_table",
    "log_run_text",
]


def _where(client: Client, run_id: str) -> tuple[str | None, str]:
    """(transfer target, artifact URI) of a run: the server for remote backends."""
    target = client.tracking_uri if is_remote(client.tracking_uri) else None
    return target, client.get_run(run_id).info.artifact_uri


def _http(client: Client) -> httpx.Client | None:
    return client.store.http if isinstance(client.store, RestStore) else None


def log_run_artifact(
    client: Client,
    run_id: str,
    local_path: str | os.PathLike[str],
    artifact_path: str | None,
    progress: TransferProgress | None = None,
) -> str:
    target, uri = _where(client, run_id)
    s3, http = client.settings.s3, _http(client)
    return artifacts.upload_file(
        target, uri, local_path, artifact_path, http=http, s3=s3, progress=progress
    )


def log_run_artifacts(
    client: Client,
    run_id: str,
    local_dir: str | os.PathLike[str],
    artifact_path: str | None,
    progress: TransferProgress | None = None,
) -> list[str]:
    target, uri = _where(client, run_id)
    s3, http = client.settings.s3, _http(client)
    return artifacts.upload_directory(
        target, uri, local_dir, artifact_path, http=http, s3=s3, progress=progress
    )


def _log_bytes(client: Client, run_id: str, data: bytes, artifact_file: str) -> str:
    target, uri = _where(client, run_id)
    s3, http = client.settings.s3, _http(client)
    return artifacts.upload_bytes(target, uri, data, artifact_file, http=http, s3=s3)


def log_run_text(client: Client, run_id: str, text: str, artifact_file: str) -> str:
    return _log_bytes(client, run_id, text.encode(), artifact_file)


def log_run_dict(client: Client, run_id: str, data: Any, artifact_file: str) -> str:
    """JSON, or YAML when the file name ends in .yaml or .yml."""
    if Path(artifact_file).suffix in (".yaml", ".yml"):
        text = yaml.safe_dump(data, sort_keys=False)
    else:
        text = json.dumps(data, indent=2)
    return log_run_text(client, run_id, text, artifact_file)


def log_run_figure(
    client: Client,
    run_id: str,
    figure: Any,
    artifact_file: str,
    save_kwargs: dict[str, Any] | None = None,
) -> str:
    """A matplotlib figure, saved in the format its file name says (``.png``, ``.svg`` ...)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise FeatureNotImplemented("log_figure needs matplotlib: pip install matplotlib") from None
    if not isinstance(figure, Figure):
        raise InvalidParameter(f"log_figure takes a matplotlib Figure, not {type(figure)}")
    suffix = PurePosixPath(normalize_artifact_path(artifact_file)).suffix.lstrip(".")
    if not suffix:
        raise InvalidParameter(f"{artifact_file!r} needs a suffix naming the format (.png ...)")
    buffer = io.BytesIO()
    figure.savefig(buffer, format=suffix, **(save_kwargs or {}))
    return _log_bytes(client, run_id, buffer.getvalue(), artifact_file)


def log_run_table(client: Client, run_id: str, data: Any, artifact_file: str) -> str:
    """A DataFrame or dict of columns as a table; rows are appended to an existing file."""
    relative = normalize_artifact_path(artifact_file)
    frame = as_frame(data, relative)
    existing = _read_if_present(client, run_id, relative)
    if existing is not None:
        frame = append_rows(read_table(existing, relative), frame)
    path = _log_bytes(client, run_id, table_bytes(frame, relative), relative)
    tag = tag_with_table(client.get_run(run_id).data.tags, relative)
    if tag is not None:
        client.set_tag(run_id, LOGGED_ARTIFACTS_TAG, tag)
    return path


def _read_if_present(client: Client, run_id: str, relative: str) -> bytes | None:
    folder = str(PurePosixPath(relative).parent).removeprefix(".")
    listed = {f.path for f in list_run_artifacts(client, run_id, folder) if not f.is_dir}
    if relative not in listed:
        return None
    with tempfile.TemporaryDirectory(prefix="shipyard-") as scratch:
        return download_run_artifacts(client, run_id, relative, scratch).read_bytes()


def list_run_artifacts(client: Client, run_id: str, path: str = "") -> list[FileInfo]:
    target, uri = _where(client, run_id)
    s3, http = client.settings.s3, _http(client)
    return artifacts.list_artifacts(target, uri, path, http=http, s3=s3)


def download_run_artifacts(
    client: Client,
    run_id: str,
    path: str = "",
    dst: str | os.PathLike[str] = ".",
    progress: TransferProgress | None = None,
) -> Path:
    target, uri = _where(client, run_id)
    s3, http = client.settings.s3, _http(client)
    return artifacts.download_artifacts(target, uri, path, dst, http=http, s3=s3, progress=progress)
