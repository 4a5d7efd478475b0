"""The proxy's multipart uploads: MLflow's ``mpu/create``, ``mpu/complete`` and ``mpu/abort``.

MLflow's client uses them for a file of at least ``MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE``
when ``MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD`` is true, or unset and server-info says
``multipart_uploads_enabled``. It POSTs ``mpu/create/<folder>`` with ``{"path": <its local file>,
"num_parts": n}`` (the file lands at ``<folder>/<base name of path>``), PUTs part ``i`` to the
``i``-th URL of the answer, keeps each answer's ``ETag``, and POSTs ``mpu/complete/<folder>`` with
``{"path", "upload_id", "parts": [{"part_number", "etag", "url"}]}``, or ``mpu/abort/<folder>``.
S3 hands out presigned URLs, so parts go straight to the bucket; a local folder's URLs point back
at this server's ``mpu/parts/<file>`` route. Paths are checked before a body is read.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import anyio.to_thread
from fastapi import APIRouter, Query, Request, Response
from starlette.routing import Match

from shipyard.artifacts import (
    MAX_UPLOAD_PARTS,
    ArtifactRepository,
    MultipartArtifactRepository,
    UploadedPart,
    normalize_artifact_path,
    repository_for_uri,
)
from shipyard.errors import FeatureNotImplemented, InvalidParameter, InvalidPath, ShipyardError
from shipyard.server._body import BlockingBody, read_json_object
from shipyard.server._http import json_response
from shipyard.settings import Settings

__all__ = ["NO_MULTIPART", "add_multipart_routes", "multipart_enabled"]

# MLflow's client falls back to a single PUT when the message starts with this sentence.
NO_MULTIPART = "Multipart upload is not supported for the current artifact repository"
_MAX_JSON = 4 * 1024 * 1024  # 10,000 parts with their URLs fit with room to spare
_SEPARATORS = re.compile(r"[/\\]")

Handler = Callable[..., Coroutine[Any, Any, Response]]


def multipart_enabled(request: Request) -> bool:
    """What server-info reports: artifacts are served, the ``mpu`` routes are mounted in this
    app, and the repository behind them assembles parts."""
    settings: Settings = request.app.state.settings
    if not settings.serve_artifacts or not _routes_here(request):
        return False
    try:
        repo, _ = repository_for_uri(settings.artifact_root, s3=settings.s3)
    except ShipyardError:
        return False
    return isinstance(repo, MultipartArtifactRepository)


def _routes_here(request: Request) -> bool:
    """Would this app route an ``mpu/create`` request (is the proxy mounted at all)?"""
    probe = {"type": "http", "method": "POST", "path": "/api/2.0/mlflow-artifacts/mpu/create/f"}
    return any(route.matches(probe)[0] == Match.FULL for route in request.app.router.routes)


def add_multipart_routes(router: APIRouter, prefix: str, repo: ArtifactRepository) -> None:
    """``mpu/{create,complete,abort}/<folder>`` and ``mpu/parts/<file>`` under ``prefix``."""
    proxy = _MultipartProxy(repo, prefix)
    shown = prefix.startswith("/api/")
    routes: dict[str, tuple[Handler, str]] = {
        "create": (proxy.create, "POST"),
        "complete": (proxy.complete, "POST"),
        "abort": (proxy.abort, "POST"),
        "parts": (proxy.put_part, "PUT"),
    }
    for step, (handler, method) in routes.items():
        route = f"{prefix}/mpu/{step}/{{path:path}}"
        router.add_api_route(route, handler, methods=[method], include_in_schema=shown)


class _MultipartProxy:
    def __init__(self, repo: ArtifactRepository, prefix: str) -> None:
        self._repo = repo
        self._prefix = prefix

    async def create(self, path: str, request: Request) -> Response:
        folder = normalize_artifact_path(path)
        body = await read_json_object(request, _MAX_JSON)
        target = _target(folder, body)
        num_parts = _integer(body.get("num_parts", 1), "num_parts")
        repo = self._multipart()
        upload = await anyio.to_thread.run_sync(repo.create_multipart, target, num_parts)
        urls = upload.part_urls or [
            self._part_url(request, target, upload.upload_id, number)
            for number in range(1, num_parts + 1)
        ]
        credentials = [
            {"url": url, "part_number": number, "headers": {}}
            for number, url in enumerate(urls, start=1)
        ]
        return json_response({"upload_id": upload.upload_id, "credentials": credentials})

    async def complete(self, path: str, request: Request) -> Response:
        folder = normalize_artifact_path(path)
        body = await read_json_object(request, _MAX_JSON)
        target = _target(folder, body)
        upload_id = _upload_id(body.get("upload_id"))
        parts = _parts(body.get("parts"))
        repo = self._multipart()
        await anyio.to_thread.run_sync(repo.complete_multipart, target, upload_id, parts)
        return json_response({})

    async def abort(self, path: str, request: Request) -> Response:
        folder = normalize_artifact_path(path)
        body = await read_json_object(request, _MAX_JSON)
        target = _target(folder, body)
        upload_id = _upload_id(body.get("upload_id"))
        repo = self._multipart()
        await anyio.to_thread.run_sync(repo.abort_multipart, target, upload_id)
        return json_response({})

    async def put_part(
        self,
        path: str,
        request: Request,
        upload_id: Annotated[str | None, Query()] = None,
        part_number: Annotated[str | None, Query()] = None,
    ) -> Response:
        target = normalize_artifact_path(path)  # checked before a byte of the body is read
        if not target:
            raise InvalidPath(f"Invalid path {path!r}: it names the root, not a file")
        number = _integer(part_number, "part_number")
        chunks = BlockingBody(request.stream())
        repo = self._multipart()
        etag = await anyio.to_thread.run_sync(
            repo.put_part, target, _upload_id(upload_id), number, chunks
        )
        return Response(b"{}", media_type="application/json", headers={"ETag": f'"{etag}"'})

    def _multipart(self) -> MultipartArtifactRepository:
        if not isinstance(self._repo, MultipartArtifactRepository):
            raise FeatureNotImplemented(f"{NO_MULTIPART}: {type(self._repo).__name__}")
        return self._repo

    def _part_url(self, request: Request, target: str, upload_id: str, number: int) -> str:
        """This server's part route, as the client reached the server (proxy prefix included)."""
        base = str(request.base_url).rstrip("/")
        query = urlencode({"upload_id": upload_id, "part_number": number})
        return f"{base}{self._prefix}/mpu/parts/{quote(target, safe='/')}?{query}"


def _target(folder: str, body: dict[str, Any]) -> str:
    """``<folder>/<base name of the client's local path>``, checked like any client path."""
    local = body.get("path")
    if not isinstance(local, str) or not local:
        raise InvalidParameter("Missing value for required parameter 'path'.")
    name = normalize_artifact_path(_SEPARATORS.split(local)[-1])  # POSIX or Windows client
    if not name:
        raise InvalidPath(f"Invalid path {local[:200]!r}: it names no file")
    return posixpath.join(folder, name) if folder else name


def _integer(value: Any, field: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidParameter(f"Invalid value for parameter '{field}': not an integer.") from None
    if isinstance(value, bool) or not 1 <= number <= MAX_UPLOAD_PARTS:
        raise InvalidParameter(
            f"Invalid value for parameter '{field}': must be between 1 and {MAX_UPLOAD_PARTS}."
        )
    return number


def _upload_id(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > 1024:
        raise InvalidParameter("Missing or invalid value for required parameter 'upload_id'.")
    return value


def _parts(value: Any) -> list[UploadedPart]:
    if not isinstance(value, list) or not value:
        raise InvalidParameter("Missing value for required parameter 'parts'.")
    parts: list[UploadedPart] = []
    for item in value:
        if not isinstance(item, dict):
            raise InvalidParameter("Each entry of 'parts' must be an object.")
        number, etag = _integer(item.get("part_number"), "part_number"), item.get("etag")
        if not isinstance(etag, str) or not etag:  # the ETag the part's PUT was answered with
            raise InvalidParameter(f"Missing value for 'etag' of part {number}.")
        parts.append(UploadedPart(number, etag))
    return parts
