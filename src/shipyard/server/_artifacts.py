"""MLflow's ``artifacts/list`` for a run, over artifact locations this server can see as files.

The artifact layer proper (repositories, the ``mlflow-artifacts`` proxy) is mounted next to these
routes by ``create_app``; this listing only covers runs whose artifacts live in a local folder,
either directly or behind the ``mlflow-artifacts:/`` root this server serves. Other locations
(``s3://``) list as empty until the artifact layer answers for them.
"""

from __future__ import annotations

import posixpath
from pathlib import Path, PurePosixPath
from typing import Annotated, Any
from urllib.parse import unquote, urlparse

from fastapi import APIRouter, Query, Request, Response

from shipyard.errors import InvalidParameter
from shipyard.server._http import MAX_BODY_BYTES, FastJSONRoute, json_response, run_id_of, store_of
from shipyard.settings import Settings

__all__ = ["local_artifact_dir", "router", "safe_relative_path"]

router = APIRouter(tags=["artifacts"], route_class=FastJSONRoute, max_body_size=MAX_BODY_BYTES)

_PROXY_SCHEME = "mlflow-artifacts"


def safe_relative_path(path: str) -> str:
    """A relative POSIX path with no way out of its root, or InvalidParameter ("Invalid path")."""
    text = path
    for _ in range(3):  # %252e%252e%252f and friends
        text = unquote(text)
    bad = (
        "\x00" in text
        or "#" in text
        or "\\" in text
        or text.startswith("/")
        or (len(text) > 1 and text[1] == ":")
        or ".." in PurePosixPath(text).parts
    )
    if bad:
        raise InvalidParameter(f"Invalid path: '{path[:200]}'")
    normal = posixpath.normpath(text) if text else ""
    return "" if normal == "." else normal


def _local_root(settings: Settings) -> Path | None:
    root = settings.artifact_root
    if "://" in root and not root.startswith("file://"):
        return None
    return Path(root.removeprefix("file://")).resolve()


def local_artifact_dir(artifact_uri: str, settings: Settings) -> Path | None:
    """The folder behind a run's artifact URI, when it is one this machine can read."""
    parsed = urlparse(artifact_uri)
    if parsed.scheme == _PROXY_SCHEME:
        root = _local_root(settings)
        if root is None:
            return None
        folder = (root / safe_relative_path(parsed.path.lstrip("/"))).resolve()
        return folder if folder.is_relative_to(root) else None
    if parsed.scheme in ("", "file"):
        return Path(unquote(parsed.path) if parsed.scheme else artifact_uri).resolve()
    return None


def _listing(folder: Path, base: Path) -> list[dict[str, Any]]:
    files: list[dict[str, Any]] = []
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        rel = entry.relative_to(base).as_posix()
        if entry.is_dir():
            files.append({"path": rel, "is_dir": True})
        elif entry.is_file():
            files.append({"path": rel, "is_dir": False, "file_size": entry.stat().st_size})
    return files


@router.get("/artifacts/list")
def list_artifacts(
    request: Request,
    run_id: Annotated[str | None, Query()] = None,
    run_uuid: Annotated[str | None, Query()] = None,
    path: Annotated[str | None, Query()] = None,
    page_token: Annotated[str | None, Query()] = None,
) -> Response:
    run = store_of(request).get_run(run_id_of(run_id, run_uuid))
    rel = safe_relative_path(path or "")
    uri = run.info.artifact_uri
    out: dict[str, Any] = {"root_uri": uri, "files": []}
    base = local_artifact_dir(uri, request.app.state.settings)
    if base is None:
        return json_response(out)
    target = (base / rel).resolve()
    if target.is_relative_to(base) and target.is_dir():
        out["files"] = _listing(target, base)
    return json_response(out)
