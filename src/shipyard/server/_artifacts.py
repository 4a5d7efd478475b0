"""MLflow's ``artifacts/list`` for a run, through the artifact layer's repositories.

A run's ``mlflow-artifacts:/`` URI resolves against the server's own artifact root; a local
``file:`` URI opens that folder and an ``s3://`` URI that key prefix. Locations no repository
serves (``gs://`` ...) list as empty rather than failing, as a listing of an absent folder does.
Paths go through ``normalize_artifact_path``, the one gate for traversal and smuggling tricks.
"""

from __future__ import annotations

import posixpath
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from shipyard.artifacts import (
    ArtifactRepository,
    FileInfo,
    normalize_artifact_path,
    repository_for_uri,
)
from shipyard.errors import FeatureNotImplemented, InvalidParameter, InvalidPath
from shipyard.server._http import (
    MAX_BODY_BYTES,
    FastJSONRoute,
    json_response,
    run_id_of,
    store_of,
)
from shipyard.settings import Settings

__all__ = ["file_json", "router", "run_repository"]

router = APIRouter(tags=["artifacts"], route_class=FastJSONRoute, max_body_size=MAX_BODY_BYTES)


def _server_root(settings: Settings) -> ArtifactRepository | None:
    try:
        return repository_for_uri(settings.artifact_root, s3=settings.s3)[0]
    except (FeatureNotImplemented, InvalidParameter):
        return None


def run_repository(artifact_uri: str, settings: Settings) -> tuple[ArtifactRepository, str] | None:
    """The repository behind a run's artifact URI and the run's folder inside it, if readable."""
    try:
        return repository_for_uri(artifact_uri, _server_root(settings), s3=settings.s3)
    except InvalidPath:
        raise
    except (FeatureNotImplemented, InvalidParameter):
        return None


def _entry(info: FileInfo, base: str) -> dict[str, Any]:
    rel = posixpath.relpath(info.path, base) if base else info.path
    if info.is_dir:
        return {"path": rel, "is_dir": True}
    return file_json(rel, info.file_size)


def file_json(path: str, size: int | None) -> dict[str, Any]:
    """A file's listing entry as MLflow's server writes it: a size of 0 is left out, as protobuf's
    JSON leaves out a zero (its client then reads ``file_size`` as None)."""
    entry: dict[str, Any] = {"path": path, "is_dir": False}
    if size:
        entry["file_size"] = size
    return entry


@router.get("/artifacts/list")
def list_artifacts(
    request: Request,
    run_id: Annotated[str | None, Query()] = None,
    run_uuid: Annotated[str | None, Query()] = None,
    path: Annotated[str | None, Query()] = None,
    page_token: Annotated[str | None, Query()] = None,
) -> Response:
    run = store_of(request).get_run(run_id_of(run_id, run_uuid))
    rel = normalize_artifact_path(path or "")
    uri = run.info.artifact_uri
    out: dict[str, Any] = {"root_uri": uri, "files": []}
    found = run_repository(uri, request.app.state.settings)
    if found is None:
        return json_response(out)
    repo, base = found
    folder = posixpath.join(base, rel) if base and rel else (base or rel)
    page = repo.list(folder, page_token or None)
    out["files"] = [_entry(info, base) for info in page.items]
    if page.next_page_token:
        out["next_page_token"] = page.next_page_token
    return json_response(out)
