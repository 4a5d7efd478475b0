"""The SDK side of artifacts: upload, list and download for one run's or model's ``artifact_uri``.

``target`` says how to reach ``mlflow-artifacts:`` URIs: the tracking server's base URL (bytes go
through its proxy over HTTP), or the server's root repository when it runs in this process. Local
paths and ``file:`` URIs are written directly. Downloads land under a hidden temp name and are
renamed only once complete and of the announced size; a broken transfer is retried.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx

from shipyard.artifacts._endpoints import PROXY_API, Endpoint, HttpEndpoint, RepositoryEndpoint
from shipyard.artifacts._local import LocalArtifactRepository
from shipyard.artifacts._paths import normalize_artifact_path, resolve_under
from shipyard.artifacts._protocol import ArtifactRepository, FileInfo
from shipyard.artifacts._uri import PROXY_SCHEME, parse_artifact_uri, repository_for_uri
from shipyard.errors import InvalidParameter, ShipyardError

__all__ = [
    "Target",
    "download_artifacts",
    "list_artifacts",
    "upload_bytes",
    "upload_directory",
    "upload_file",
]

Target = str | ArtifactRepository | None
T = TypeVar("T")
R = TypeVar("R")
_ATTEMPTS = 3
_TIMEOUT = 120.0


class _Incomplete(Exception):
    """A download that ended before the size the far side announced."""


def upload_file(
    target: Target,
    artifact_uri: str,
    local_path: str | os.PathLike[str],
    artifact_path: str | None = None,
    *,
    http: httpx.Client | None = None,
) -> str:
    """Upload one file to ``<artifact_uri>/<artifact_path>/<file name>``; returns that path."""
    local = Path(local_path)
    if not local.is_file():
        raise InvalidParameter(f"{str(local)!r} is not a file")
    destination = _destination(artifact_path, local.name)
    with _endpoint(target, artifact_uri, http) as endpoint:
        _retrying(lambda: endpoint.put_file(destination, local))
    return destination


def upload_bytes(
    target: Target,
    artifact_uri: str,
    data: bytes,
    artifact_file: str,
    *,
    http: httpx.Client | None = None,
) -> str:
    """Upload ``data`` as file ``artifact_file`` (for ``log_text``, ``log_dict`` ...)."""
    relative = normalize_artifact_path(artifact_file)
    if not relative:
        raise InvalidParameter("artifact_file must name a file")
    with tempfile.TemporaryDirectory(prefix="shipyard-") as folder:
        local = Path(folder) / posixpath.basename(relative)
        local.write_bytes(data)
        return upload_file(target, artifact_uri, local, posixpath.dirname(relative), http=http)


def upload_directory(
    target: Target,
    artifact_uri: str,
    local_dir: str | os.PathLike[str],
    artifact_path: str | None = None,
    *,
    http: httpx.Client | None = None,
    max_workers: int = 4,
) -> list[str]:
    """Upload every file below ``local_dir``, keeping its layout; returns the artifact paths."""
    root = Path(local_dir)
    if not root.is_dir():
        raise InvalidParameter(f"{str(root)!r} is not a directory")
    files = sorted(p for p in root.rglob("*") if p.is_file())
    jobs = [(p, _destination(artifact_path, p.relative_to(root).as_posix())) for p in files]
    with _endpoint(target, artifact_uri, http) as endpoint:

        def put(job: tuple[Path, str]) -> str:
            _retrying(lambda: endpoint.put_file(job[1], job[0]))
            return job[1]

        return _in_parallel(put, jobs, max_workers)


def list_artifacts(
    target: Target, artifact_uri: str, path: str = "", *, http: httpx.Client | None = None
) -> list[FileInfo]:
    """Entries directly under ``path`` (relative to ``artifact_uri``), sorted by path."""
    relative = normalize_artifact_path(path)
    with _endpoint(target, artifact_uri, http) as endpoint:
        return sorted(endpoint.list_dir(relative), key=lambda entry: entry.path)


def download_artifacts(
    target: Target,
    artifact_uri: str,
    path: str = "",
    dst: str | os.PathLike[str] = ".",
    *,
    http: httpx.Client | None = None,
    max_workers: int = 4,
) -> Path:
    """Download file or directory ``path`` to ``dst/<path>`` and return that local path."""
    relative = normalize_artifact_path(path)
    root = Path(dst).resolve()
    with _endpoint(target, artifact_uri, http) as endpoint:
        files = _walk(endpoint, relative)
        if files is None:  # not a directory: one file
            files = [relative]

        def fetch(file: str) -> Path:
            return _download_file(endpoint, file, resolve_under(root, file))

        _in_parallel(fetch, files, max_workers)
    return resolve_under(root, relative)


def _destination(artifact_path: str | None, name: str) -> str:
    folder = normalize_artifact_path(artifact_path or "")
    return normalize_artifact_path(posixpath.join(folder, name) if folder else name)


def _walk(endpoint: Endpoint, path: str) -> list[str] | None:
    """Every file below ``path``; None when ``path`` lists as nothing (a file, or absent)."""
    entries = endpoint.list_dir(path)
    if not entries and path:
        return None
    files: list[str] = []
    for entry in entries:
        if entry.is_dir:
            files.extend(_walk(endpoint, entry.path) or [])
        else:
            files.append(entry.path)
    return files


def _download_file(endpoint: Endpoint, path: str, destination: Path) -> Path:
    destination.parent.mkdir(parents=True, exist_ok=True)
    return _retrying(lambda: _fetch_once(endpoint, path, destination))


def _fetch_once(endpoint: Endpoint, path: str, destination: Path) -> Path:
    fd, temp = tempfile.mkstemp(prefix=".shipyard-", suffix=".partial", dir=destination.parent)
    try:
        written = 0
        with os.fdopen(fd, "wb") as handle, endpoint.open(path) as stream:
            for chunk in stream:
                handle.write(chunk)
                written += len(chunk)
        if stream.size >= 0 and written != stream.size:
            raise _Incomplete(f"got {written} of {stream.size} bytes of {path!r}")
        os.replace(temp, destination)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    return destination


def _retrying(action: Callable[[], T]) -> T:
    """Run ``action``, again after a broken connection or a short download."""
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            return action()
        except (httpx.TransportError, _Incomplete) as error:
            if attempt == _ATTEMPTS:
                message = f"Artifact transfer failed {_ATTEMPTS} times: {error}"
                raise ShipyardError(message) from error
    raise AssertionError("unreachable")


def _in_parallel(action: Callable[[T], R], items: Sequence[T], workers: int) -> list[R]:
    if workers <= 1 or len(items) <= 1:
        return [action(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(action, items))  # re-raises the first failure


@contextlib.contextmanager
def _endpoint(target: Target, artifact_uri: str, http: httpx.Client | None) -> Iterator[Endpoint]:
    parsed = parse_artifact_uri(artifact_uri)
    if parsed.scheme == "file":
        yield RepositoryEndpoint(LocalArtifactRepository(parsed.path))
    elif parsed.scheme == PROXY_SCHEME and target is not None and not isinstance(target, str):
        yield RepositoryEndpoint(target, parsed.path)
    elif parsed.scheme == PROXY_SCHEME and isinstance(target, str):
        with _http_client(http) as client:
            yield HttpEndpoint(_proxy_base(target, parsed.netloc), parsed.path, client)
    elif parsed.scheme in ("http", "https") and PROXY_API in parsed.path:
        base, _, prefix = artifact_uri.partition(PROXY_API)
        with _http_client(http) as client:
            yield HttpEndpoint(base, normalize_artifact_path(prefix.lstrip("/")), client)
    else:
        repository_for_uri(artifact_uri)  # raises the precise error for this scheme
        raise InvalidParameter(f"{artifact_uri!r} needs a tracking server URL to reach")


@contextlib.contextmanager
def _http_client(http: httpx.Client | None) -> Iterator[httpx.Client]:
    if http is not None:
        yield http
        return
    with httpx.Client(timeout=_TIMEOUT) as client:
        yield client


def _proxy_base(tracking_url: str, netloc: str) -> str:
    """``mlflow-artifacts://host:port/...`` names another server; keep the tracking URL's scheme."""
    if not netloc:
        return tracking_url
    parts = urlsplit(tracking_url)
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
