"""Where the SDK sends artifact bytes: a repository in this process, or a server's proxy over HTTP.

Both speak the same three verbs on paths relative to one artifact URI, so the transfer code in
``_client`` (temp names, size checks, retries) is written once.
"""

from __future__ import annotations

import mimetypes
import posixpath
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

import httpx

from shipyard.artifacts._paths import normalize_artifact_path
from shipyard.artifacts._protocol import (
    DEFAULT_CHUNK_SIZE,
    ArtifactRepository,
    ArtifactStream,
    FileInfo,
)
from shipyard.errors import ShipyardError, error_for_code

__all__ = [
    "PROXY_API",
    "Endpoint",
    "HttpEndpoint",
    "OnChunk",
    "RepositoryEndpoint",
    "read_file_chunks",
]

PROXY_API = "/api/2.0/mlflow-artifacts/artifacts"
OnChunk = Callable[[int], None]  # told the size of every chunk as it moves


class Endpoint(Protocol):
    def put_file(self, path: str, local_file: Path, on_chunk: OnChunk | None = None) -> int: ...

    def open(self, path: str) -> ArtifactStream:
        """``size`` is -1 when the far side did not say."""
        ...

    def list_dir(self, path: str) -> list[FileInfo]:
        """One level, paths relative to the endpoint's artifact URI."""
        ...


def read_file_chunks(
    local_file: Path, chunk_size: int = DEFAULT_CHUNK_SIZE, on_chunk: OnChunk | None = None
) -> Iterator[bytes]:
    with local_file.open("rb") as handle:
        while chunk := handle.read(chunk_size):
            yield chunk
            if on_chunk is not None:
                on_chunk(len(chunk))


class RepositoryEndpoint:
    """A repository in this process, below ``prefix``."""

    def __init__(self, repo: ArtifactRepository, prefix: str = "") -> None:
        self._repo = repo
        self._prefix = prefix

    def put_file(self, path: str, local_file: Path, on_chunk: OnChunk | None = None) -> int:
        chunks = read_file_chunks(local_file, on_chunk=on_chunk)
        return self._repo.put_stream(self._full(path), chunks)

    def open(self, path: str) -> ArtifactStream:
        return self._repo.open_stream(self._full(path))

    def list_dir(self, path: str) -> list[FileInfo]:
        found: list[FileInfo] = []
        token: str | None = None
        while True:
            page = self._repo.list(self._full(path), page_token=token)
            found.extend(_relative_to(entry, self._prefix) for entry in page.items)
            token = page.next_page_token
            if not token:
                return found

    def _full(self, path: str) -> str:
        return posixpath.join(self._prefix, path) if path else self._prefix


class HttpEndpoint:
    """A tracking server's ``mlflow-artifacts`` proxy; ``prefix`` is the URI's path on it."""

    def __init__(self, base_url: str, prefix: str, client: httpx.Client) -> None:
        self._base = base_url.rstrip("/") + PROXY_API
        self._prefix = prefix
        self._client = client

    def put_file(self, path: str, local_file: Path, on_chunk: OnChunk | None = None) -> int:
        size = local_file.stat().st_size
        content_type = mimetypes.guess_type(local_file.name)[0] or "application/octet-stream"
        headers = {"Content-Length": str(size), "Content-Type": content_type}
        chunks = read_file_chunks(local_file, on_chunk=on_chunk)
        response = self._client.put(self._url(path), content=chunks, headers=headers)
        _raise_for_status(response)
        return size

    def open(self, path: str) -> ArtifactStream:
        request = self._client.build_request("GET", self._url(path))
        response = self._client.send(request, stream=True)
        if response.status_code >= 400:
            response.read()
            response.close()
            _raise_for_status(response)
        size = int(response.headers.get("Content-Length", "-1"))
        chunks = response.iter_bytes(DEFAULT_CHUNK_SIZE)
        return ArtifactStream(size, chunks, response.close)

    def list_dir(self, path: str) -> list[FileInfo]:
        full = self._full(path)
        response = self._client.get(self._base, params={"path": full})
        _raise_for_status(response)
        entries = response.json().get("files", [])
        return [_entry(path, entry) for entry in entries]

    def _full(self, path: str) -> str:
        return posixpath.join(self._prefix, path) if path else self._prefix

    def _url(self, path: str) -> str:
        return f"{self._base}/{quote(self._full(path), safe='/')}"


def _entry(parent: str, entry: dict[str, object]) -> FileInfo:
    # A server's names are checked like a client's: "../.bashrc" must not reach a local path.
    name = normalize_artifact_path(str(entry["path"]))
    size = entry.get("file_size")
    return FileInfo(
        posixpath.join(parent, name) if parent else name,
        bool(entry.get("is_dir", False)),
        int(str(size)) if size is not None else None,
    )


def _relative_to(entry: FileInfo, prefix: str) -> FileInfo:
    if not prefix:
        return entry
    return FileInfo(posixpath.relpath(entry.path, prefix), entry.is_dir, entry.file_size)


def _raise_for_status(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        body = response.json()
        error = error_for_code(str(body["error_code"]), str(body.get("message", "")))
    except (ValueError, KeyError, TypeError):
        error = ShipyardError(f"HTTP {response.status_code} from {response.request.url}")
    raise error
