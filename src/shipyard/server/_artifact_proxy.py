"""MLflow's ``mlflow-artifacts`` proxy: clients move artifact bytes through the tracking server.

Mounted at ``/api/2.0/mlflow-artifacts`` and mirrored at ``/ajax-api/2.0/mlflow-artifacts``. Bodies
stream both ways in chunks (a 2 GB upload never sits in memory): uploads are read from the socket
on the event loop and written by the repository in a worker thread, one block at a time, to a
local folder or to S3. Every path goes through ``normalize_artifact_path`` before storage is
touched; failures are ``ShipyardError``s that the app's one error handler turns into MLflow's JSON
error body. The multipart-upload endpoints live in ``_multipart``.
"""

from __future__ import annotations

import mimetypes
import posixpath
from collections.abc import Iterable
from typing import Annotated, Any

import anyio.to_thread
import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from shipyard._text import is_decimal
from shipyard.artifacts import ArtifactRepository, normalize_artifact_path, repository_for_uri
from shipyard.errors import FeatureNotImplemented, InvalidPath
from shipyard.server._body import SMALL_BODY, BlockingBody
from shipyard.server._errors import error_response
from shipyard.server._multipart import add_multipart_routes
from shipyard.settings import Settings

__all__ = ["PROXY_PREFIXES", "artifacts_router", "create_router", "disabled_router"]

PROXY_PREFIXES = ("/api/2.0/mlflow-artifacts", "/ajax-api/2.0/mlflow-artifacts")
_INLINE_BODY = 64 * 1024  # uploads this small to a local folder skip the worker thread
# Served as text: an uploaded page or script must not run in the browser on the server's origin.
_ACTIVE_TYPES = {
    "text/html",
    "application/javascript",
    "text/javascript",
    "image/svg+xml",
    "application/xhtml+xml",
    "text/xml",
    "application/xml",
}


def create_router(settings: Settings) -> APIRouter:
    """The proxy over the repository at ``settings.artifact_root`` (a folder or ``s3://``)."""
    repo, _ = repository_for_uri(
        settings.artifact_root, s3=settings.s3, fsync=settings.artifact_fsync
    )
    return artifacts_router(repo)


def disabled_router() -> APIRouter:
    """What ``--no-serve-artifacts`` mounts: every proxy path answers 503 saying why, as MLflow's
    server does, so nothing is written through a server that hands out the store's own URIs."""
    router = APIRouter(include_in_schema=False)

    async def disabled(request: Request) -> Response:
        return error_response(
            503,
            "TEMPORARILY_UNAVAILABLE",
            f"Endpoint {request.url.path} is disabled: the server runs with "
            "--no-serve-artifacts. Start it with --serve-artifacts to proxy artifacts.",
        )

    methods = ["GET", "PUT", "POST", "DELETE", "PATCH", "HEAD"]
    for prefix in PROXY_PREFIXES:
        router.add_api_route(f"{prefix}/{{path:path}}", disabled, methods=methods)
    return router


def artifacts_router(repo: ArtifactRepository) -> APIRouter:
    """The proxy routes over ``repo``, already prefixed: include the router without a prefix."""
    proxy = _Proxy(repo)
    router = APIRouter(tags=["mlflow-artifacts"])
    for prefix in PROXY_PREFIXES:
        shown = prefix == PROXY_PREFIXES[0]
        add = router.add_api_route
        add(f"{prefix}/artifacts", proxy.list_dir, methods=["GET"], include_in_schema=shown)
        file_route = f"{prefix}/artifacts/{{path:path}}"
        add(file_route, proxy.download, methods=["GET"], include_in_schema=shown)
        add(file_route, proxy.upload, methods=["PUT"], include_in_schema=shown)
        add(file_route, proxy.delete, methods=["DELETE"], include_in_schema=shown)
        add_multipart_routes(router, prefix, repo)
        route = f"{prefix}/presigned/{{path:path}}"
        add(route, proxy.presigned, methods=["GET"], include_in_schema=shown)
    return router


class _Proxy:
    def __init__(self, repo: ArtifactRepository) -> None:
        self._repo = repo
        self._quick_writes = bool(getattr(repo, "writes_are_quick", False))

    async def list_dir(self, path: Annotated[str | None, Query()] = None) -> Response:
        """Entries directly under ``path``, named relative to it as MLflow's client expects."""
        files = await anyio.to_thread.run_sync(self._list_all, path or "")
        return _json({"files": files})

    async def download(self, path: str) -> Response:
        stream = await anyio.to_thread.run_sync(self._repo.open_stream, path)
        headers = {"Content-Length": str(stream.size), "X-Content-Type-Options": "nosniff"}
        return StreamingResponse(
            stream,
            media_type=_media_type(path),
            headers=headers,
            background=BackgroundTask(stream.close),
        )

    async def upload(self, path: str, request: Request) -> Response:
        if not normalize_artifact_path(path):  # checked before a byte of the body is read
            raise InvalidPath(f"Invalid path {path!r}: it names the root, not a file")
        length = request.headers.get("content-length", "")
        if is_decimal(length) and int(length) <= _INLINE_BODY and self._quick_writes:
            # a few KiB into a local folder: written on the event loop, no thread hop at all
            self._repo.put_stream(path, [await request.body()])
            return _json({})
        if is_decimal(length) and int(length) <= SMALL_BODY:  # one thread hop instead of three
            chunks: Iterable[bytes] = [await request.body()]
        else:
            chunks = BlockingBody(request.stream())
        await anyio.to_thread.run_sync(self._repo.put_stream, path, chunks)
        return _json({})

    async def delete(self, path: str) -> Response:
        await anyio.to_thread.run_sync(self._repo.delete, path)
        return _json({})

    async def presigned(self, path: str) -> Response:
        normalize_artifact_path(path)
        raise FeatureNotImplemented("Presigned artifact URLs are not supported by this server")

    def _list_all(self, path: str) -> list[dict[str, Any]]:
        files: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page = self._repo.list(path, page_token=token)
            for entry in page.items:
                item: dict[str, Any] = {"path": posixpath.basename(entry.path)}
                item["is_dir"] = entry.is_dir
                if entry.file_size:  # left out when 0 (as MLflow's); the client int()s it
                    item["file_size"] = entry.file_size
                files.append(item)
            token = page.next_page_token
            if not token:
                return files


def _media_type(path: str) -> str:
    guessed = mimetypes.guess_type(posixpath.basename(path))[0] or "application/octet-stream"
    return "text/plain" if guessed in _ACTIVE_TYPES else guessed


def _json(body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")
