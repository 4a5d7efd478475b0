"""The one small protocol every artifact repository speaks (a local folder, S3).

Paths are client paths relative to the repository's root (``a/b.txt``; ``""`` is the root); each
repository checks them with ``normalize_artifact_path`` before touching storage. Reads and writes
are iterators of byte chunks, so a file of any size moves in flat memory.

``MultipartArtifactRepository`` is the optional second half: a file uploaded as numbered parts
(possibly in parallel, possibly straight to storage through presigned URLs) that appears under
its name only when the upload is completed, as MLflow's ``mpu/*`` endpoints need.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from shipyard.store import Page

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "MAX_UPLOAD_PARTS",
    "ArtifactRepository",
    "ArtifactStream",
    "FileInfo",
    "MultipartArtifactRepository",
    "MultipartUpload",
    "UploadedPart",
]

DEFAULT_CHUNK_SIZE = 1024 * 1024
MAX_UPLOAD_PARTS = 10_000  # S3's limit, and MLflow's client never asks for more


@dataclass(frozen=True, slots=True)
class FileInfo:
    """One listing entry; ``path`` is relative to the repository root, ``file_size`` is None
    for directories."""

    path: str
    is_dir: bool
    file_size: int | None = None


class ArtifactStream(Iterator[bytes]):
    """An open artifact: its size, known before the first byte, and its chunks.

    Opening happens eagerly (a missing file fails in ``open_stream``, not halfway through an HTTP
    response); ``close`` releases the underlying handle and is safe to call twice.
    """

    def __init__(self, size: int, chunks: Iterator[bytes], close: Callable[[], None]) -> None:
        self.size = size
        self._chunks = chunks
        self._close = close

    def __iter__(self) -> ArtifactStream:
        return self

    def __next__(self) -> bytes:
        return next(self._chunks)

    def close(self) -> None:
        self._close()

    def __enter__(self) -> ArtifactStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@runtime_checkable
class ArtifactRepository(Protocol):
    """Storage for artifact files under one root."""

    def put_stream(self, path: str, chunks: Iterable[bytes]) -> int:
        """Store the chunks as file ``path`` and return its size.

        Atomic: the file appears under its name only once every chunk is stored; if ``chunks``
        raises, nothing is left under the name (a previous version, if any, stays intact).
        """
        ...

    def open_stream(self, path: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> ArtifactStream:
        """Open file ``path`` for reading; raises ``NotFound`` if it is not a file."""
        ...

    def info(self, path: str) -> FileInfo:
        """Describe ``path`` (size for files); raises ``NotFound`` if absent."""
        ...

    def exists(self, path: str) -> bool: ...

    def list(
        self, path: str = "", page_token: str | None = None, max_results: int = 1000
    ) -> Page[FileInfo]:
        """Entries directly under directory ``path``, sorted by name.

        A file or an absent path lists as empty (MLflow's client relies on that to tell files
        from directories).
        """
        ...

    def delete(self, path: str) -> None:
        """Delete file or directory ``path`` recursively; absent paths are not an error."""
        ...


@dataclass(frozen=True, slots=True)
class MultipartUpload:
    """A started multipart upload. ``part_urls`` are presigned URLs the client PUTs part ``i+1``
    to; empty when parts must go through the server (``put_part``)."""

    upload_id: str
    part_urls: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class UploadedPart:
    """What a client reports for one stored part: its number and the ETag it was answered."""

    part_number: int
    etag: str


@runtime_checkable
class MultipartArtifactRepository(ArtifactRepository, Protocol):
    """A repository that assembles a file from numbered parts."""

    def create_multipart(self, path: str, num_parts: int) -> MultipartUpload:
        """Start uploading file ``path`` in ``num_parts`` parts (1 to ``MAX_UPLOAD_PARTS``)."""
        ...

    def put_part(self, path: str, upload_id: str, part_number: int, chunks: Iterable[bytes]) -> str:
        """Store one part (again, if retried) and return its ETag."""
        ...

    def complete_multipart(self, path: str, upload_id: str, parts: Sequence[UploadedPart]) -> None:
        """Join ``parts`` in order into file ``path``, atomically; the upload is then gone.

        Raises ``InvalidParameter`` for a missing part or an ETag that does not match, and
        ``NotFound`` for an unknown upload (or one started for another path).
        """
        ...

    def abort_multipart(self, path: str, upload_id: str) -> None:
        """Drop the upload and its parts; an unknown upload is not an error."""
        ...

    def abort_stale_uploads(self, older_than_s: float) -> tuple[int, int]:
        """Abort uploads started more than ``older_than_s`` seconds ago and never completed;
        returns (uploads aborted, bytes of parts freed)."""
        ...
