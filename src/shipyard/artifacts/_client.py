"""The SDK side of artifacts: upload, list and download for one run's or model's ``artifact_uri``.

``target`` says how to reach ``mlflow-artifacts:`` URIs: the tracking server's base URL (bytes go
through its proxy over HTTP), or the server's root repository when it runs in this process. Local
paths, ``file:`` and ``s3://`` URIs are written directly (``s3`` says how to reach S3). Downloads
land under a hidden temp name and are renamed only once complete and of the announced size; a
broken transfer is retried. A ``TransferProgress`` hears the total and every chunk moved.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol, TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx

from shipyard.artifacts._endpoints import (
    PROXY_API,
    Endpoint,
    HttpEndpoint,
    OnChunk,
    RepositoryEndpoint,
)
from shipyard.artifacts._paths import normalize_artifact_path, resolve_under
from shipyard.artifacts._protocol import ArtifactRepository, FileInfo
from shipyard.artifacts._uri import PROXY_SCHEME, parse_artifact_uri, repository_for_uri
from shipyard.errors import InvalidParameter, ShipyardError
from shipyard.settings import S3Settings

__all__ = [
    "Target",
    "TransferProgress",
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


class TransferProgress(Protocol):
    """Hears how many bytes a transfer will move, then each chunk as it moves (from several
    threads at once); a broken attempt's bytes come back negative before the retry."""

    def start(self, total_bytes: int) -> None: ...

    def advance(self, nbytes: int) -> None: ...


class _Options:
    """What every transfer call passes along: HTTP client, S3 settings, progress listener."""

    __slots__ = ("http", "progress", "s3")

    def __init__(
        self, http: httpx.Client | None, s3: S3Settings | None, progress: TransferProgress | None
    ) -> None:
        self.http, self.s3, self.progress = http, s3, progress


def upload_file(
    target: Target,
    artifact_uri: str,
    local_path: str | os.PathLike[str],
    artifact_path: str | None = None,
    *,
    http: httpx.Client | None = None,
    s3: S3Settings | None = None,
    progress: TransferProgress | None = None,
) -> str:
    """Upload one file to ``<artifact_uri>/<artifact_path>/<file name>``; returns that path."""
    local = Path(local_path)
    if not local.is_file():
        raise InvalidParameter(f"{str(local)!r} is not a file")
    destination = _destination(artifact_path, local.name)
    if progress is not None:
        progress.start(local.stat().st_size)
    with _endpoint(target, artifact_uri, _Options(http, s3, progress)) as endpoint:
        _metered(progress, lambda tick: endpoint.put_file(destination, local, tick))
    return destination


def upload_bytes(
    target: Target,
    artifact_uri: str,
    data: bytes,
    artifact_file: str,
    *,
    http: httpx.Client | None = None,
    s3: S3Settings | None = None,
) -> str:
    """Upload ``data`` as file ``artifact_file`` (for ``log_text``, ``log_dict`` ...)."""
    relative = normalize_artifact_path(artifact_file)
    if not relative:
        raise InvalidParameter("artifact_file must name a file")
    with tempfile.TemporaryDirectory(prefix="shipyard-") as folder:
        local = Path(folder) / posixpath.basename(relative)
        local.write_bytes(data)
        folder = posixpath.dirname(relative)
        return upload_file(target, artifact_uri, local, folder, http=http, s3=s3)


def upload_directory(
    target: Target,
    artifact_uri: str,
    local_dir: str | os.PathLike[str],
    artifact_path: str | None = None,
    *,
    http: httpx.Client | None = None,
    s3: S3Settings | None = None,
    progress: TransferProgress | None = None,
    max_workers: int = 4,
) -> list[str]:
    """Upload every file below ``local_dir``, keeping its layout; returns the artifact paths."""
    root = Path(local_dir)
    if not root.is_dir():
        raise InvalidParameter(f"{str(root)!r} is not a directory")
    files = sorted(p for p in root.rglob("*") if p.is_file())
    jobs = [(p, _destination(artifact_path, p.relative_to(root).as_posix())) for p in files]
    if progress is not None:
        progress.start(sum(p.stat().st_size for p in files))
    with _endpoint(target, artifact_uri, _Options(http, s3, progress)) as endpoint:

        def put(job: tuple[Path, str]) -> str:
            _metered(progress, lambda tick: endpoint.put_file(job[1], job[0], tick))
            return job[1]

        return _in_parallel(put, jobs, max_workers)


def list_artifacts(
    target: Target,
    artifact_uri: str,
    path: str = "",
    *,
    http: httpx.Client | None = None,
    s3: S3Settings | None = None,
) -> list[FileInfo]:
    """Entries directly under ``path`` (relative to ``artifact_uri``), sorted by path."""
    relative = normalize_artifact_path(path)
    with _endpoint(target, artifact_uri, _Options(http, s3, None)) as endpoint:
        return sorted(endpoint.list_dir(relative), key=lambda entry: entry.path)


def download_artifacts(
    target: Target,
    artifact_uri: str,
    path: str = "",
    dst: str | os.PathLike[str] = ".",
    *,
    http: httpx.Client | None = None,
    s3: S3Settings | None = None,
    progress: TransferProgress | None = None,
    max_workers: int = 4,
) -> Path:
    """Download file or directory ``path`` to ``dst/<path>`` and return that local path."""
    relative = normalize_artifact_path(path)
    root = Path(dst).resolve()
    with _endpoint(target, artifact_uri, _Options(http, s3, progress)) as endpoint:
        files = _walk(endpoint, relative)
        if files is None:  # not a directory: one file
            files = [_describe_file(endpoint, relative, want_size=progress is not None)]
        if progress is not None:
            progress.start(sum(f.file_size or 0 for f in files))

        def fetch(file: FileInfo) -> Path:
            return _download_file(endpoint, file, resolve_under(root, file.path), progress)

        _in_parallel(fetch, files, max_workers)
    return resolve_under(root, relative)


def _destination(artifact_path: str | None, name: str) -> str:
    folder = normalize_artifact_path(artifact_path or "")
    return normalize_artifact_path(posixpath.join(folder, name) if folder else name)


def _walk(endpoint: Endpoint, path: str) -> list[FileInfo] | None:
    """Every file below ``path``; None when ``path`` lists as nothing (a file, or absent)."""
    entries = endpoint.list_dir(path)
    if not entries and path:
        return None
    files: list[FileInfo] = []
    for entry in entries:
        if entry.is_dir:
            files.extend(_walk(endpoint, entry.path) or [])
        else:
            files.append(entry)
    return files


def _describe_file(endpoint: Endpoint, path: str, want_size: bool) -> FileInfo:
    """One file, with its size from its folder's listing when a progress bar needs the total."""
    if want_size and path:
        for entry in endpoint.list_dir(posixpath.dirname(path)):
            if entry.path == path and not entry.is_dir:
                return entry
    return FileInfo(path, False, None)


def _download_file(
    endpoint: Endpoint, file: FileInfo, destination: Path, progress: TransferProgress | None
) -> Path:
    destination.parent.mkdir(parents=True, exist_ok=True)
    return _metered(progress, lambda tick: _fetch_once(endpoint, file, destination, tick))


def _fetch_once(endpoint: Endpoint, file: FileInfo, destination: Path, tick: OnChunk) -> Path:
    fd, temp = tempfile.mkstemp(prefix=".shipyard-", suffix=".partial", dir=destination.parent)
    try:
        written = 0
        with os.fdopen(fd, "wb") as handle, endpoint.open(file.path) as stream:
            for chunk in stream:
                handle.write(chunk)
                written += len(chunk)
                tick(len(chunk))
        # The response's own length first (the file may have changed since it was listed).
        expected = stream.size if stream.size >= 0 else file.file_size
        if expected is not None and written != expected:
            raise _Incomplete(f"got {written} of {expected} bytes of {file.path!r}")
        os.replace(temp, destination)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    return destination


def _metered(progress: TransferProgress | None, action: Callable[[OnChunk], T]) -> T:
    """``_retrying(action)``, telling ``progress`` each chunk and taking back a failed try's."""
    if progress is None:
        return _retrying(lambda: action(_ignore))
    listener = progress

    def attempt() -> T:
        moved = 0

        def tick(nbytes: int) -> None:
            nonlocal moved
            moved += nbytes
            listener.advance(nbytes)

        try:
            return action(tick)
        except BaseException:
            listener.advance(-moved)
            raise

    return _retrying(attempt)


def _ignore(_nbytes: int) -> None:
    pass


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
def _endpoint(target: Target, artifact_uri: str, options: _Options) -> Iterator[Endpoint]:
    parsed = parse_artifact_uri(artifact_uri)
    if parsed.scheme == PROXY_SCHEME and target is not None and not isinstance(target, str):
        yield RepositoryEndpoint(target, parsed.path)
    elif parsed.scheme == PROXY_SCHEME and isinstance(target, str):
        with _http_client(options.http) as client:
            yield HttpEndpoint(_proxy_base(target, parsed.netloc), parsed.path, client)
    elif parsed.scheme in ("http", "https") and PROXY_API in parsed.path:
        base, _, prefix = artifact_uri.partition(PROXY_API)
        with _http_client(options.http) as client:
            yield HttpEndpoint(base, normalize_artifact_path(prefix.lstrip("/")), client)
    else:  # local folders and S3; raises the precise error for anything else
        repo, path = repository_for_uri(artifact_uri, s3=options.s3)
        yield RepositoryEndpoint(repo, path)


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
