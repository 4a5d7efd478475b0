"""Run artifacts from the SDK: files, folders, text and dicts, listed and downloaded."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml

from shipyard import artifacts
from shipyard.artifacts import FileInfo
from shipyard.client._backend import is_remote
from shipyard.client._client import Client

__all__ = [
    "download_run_artifacts",
    "list_run_artifacts",
    "log_run_artifact",
    "log_run_artifacts",
    "log_run_dict",
    "log_run_text",
]


def _where(client: Client, run_id: str) -> tuple[str | None, str]:
    """(transfer target, artifact URI) of a run: the server for remote backends."""
    target = client.tracking_uri if is_remote(client.tracking_uri) else None
    return target, client.get_run(run_id).info.artifact_uri


def log_run_artifact(
    client: Client, run_id: str, local_path: str | os.PathLike[str], artifact_path: str | None
) -> str:
    target, uri = _where(client, run_id)
    return artifacts.upload_file(target, uri, local_path, artifact_path)


def log_run_artifacts(
    client: Client, run_id: str, local_dir: str | os.PathLike[str], artifact_path: str | None
) -> list[str]:
    target, uri = _where(client, run_id)
    return artifacts.upload_directory(target, uri, local_dir, artifact_path)


def log_run_text(client: Client, run_id: str, text: str, artifact_file: str) -> str:
    target, uri = _where(client, run_id)
    return artifacts.upload_bytes(target, uri, text.encode(), artifact_file)


def log_run_dict(client: Client, run_id: str, data: Any, artifact_file: str) -> str:
    """JSON, or YAML when the file name ends in .yaml or .yml."""
    if Path(artifact_file).suffix in (".yaml", ".yml"):
        text = yaml.safe_dump(data, sort_keys=False)
    else:
        text = json.dumps(data, indent=2)
    return log_run_text(client, run_id, text, artifact_file)


def list_run_artifacts(client: Client, run_id: str, path: str = "") -> list[FileInfo]:
    target, uri = _where(client, run_id)
    return artifacts.list_artifacts(target, uri, path)


def download_run_artifacts(
    client: Client, run_id: str, path: str = "", dst: str | os.PathLike[str] = "."
) -> Path:
    target, uri = _where(client, run_id)
    return artifacts.download_artifacts(target, uri, path, dst)
