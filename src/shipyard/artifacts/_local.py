"""Artifacts in a local folder: the embedded default and the server's ``--artifacts-destination``.

Writes go to a hidden temp file in the target's own folder and are renamed over the final name,
so a reader sees the old file or the whole new one, never half of one (the rename is atomic
within one filesystem), and a failed stream leaves nothing behind. With ``fsync=True`` the file
and then its folder are flushed to disk before the write returns, so the file also survives a
power cut; that costs about 3 ms per file here, ten times the rest of a small write, so it is
off by default (as in MLflow, and for git's loose objects). Listing hides temp files of writes
still in flight, and the ``.shipyard-uploads`` folder of multipart uploads in progress, which no
client path may name.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from shipyard.artifacts._local_uploads import UPLOADS_DIR, LocalUploads, read_parts
from shipyard.artifacts._paths import is_within, normalize_artifact_path, resolve_normalized
from shipyard.artifacts._protocol import (
    DEFAULT_CHUNK_SIZE,
    ArtifactStream,
    FileInfo,
    MultipartUpload,
    UploadedPart,
)
from shipyard.artifacts._tokens import decode_after_token, encode_after_token
from shipyard.errors import InvalidParameter, InvalidPath, NotFound
from shipyard.store import Page

__all__ = ["LocalArtifactRepository"]

_TEMP_PREFIX = ".shipyard-"
_TEMP_SUFFIX = ".partial"
_FILE_MODE = 0o644


class LocalArtifactRepository:
    """An ``ArtifactRepository`` rooted at a folder (created on the first write)."""

    def __init__(self, root: str | os.PathLike[str], *, fsync: bool = False) -> None:
        self._root = Path(root).resolve()
        self._fsync = fsync
        self._uploads = LocalUploads(self._root)

    def __repr__(self) -> str:
        return f"LocalArtifactRepository({str(self._root)!r})"

    @property
    def root(self) -> Path:
        return self._root

    @property
    def writes_are_quick(self) -> bool:
        """A small file lands in the page cache in tens of microseconds, less than a hop to a
        worker thread costs, unless each write is flushed to disk."""
        return not self._fsync

    def put_stream(self, path: str, chunks: Iterable[bytes]) -> int:
        target = self._file_target(path)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise InvalidPath(f"Invalid path {path!r}: a parent of it is a file") from None
        return _write_atomically(target, chunks, path, self._fsync)

    def open_stream(self, path: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> ArtifactStream:
        target = resolve_normalized(self._root, self._checked(path), path)
        try:
            # O_NONBLOCK: a planted FIFO must not hang the reader; it fails the S_ISREG check.
            fd = os.open(target, os.O_RDONLY | os.O_NONBLOCK)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise _not_found(path) from None
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            raise _not_found(path)
        handle = os.fdopen(fd, "rb")
        return ArtifactStream(info.st_size, _read_chunks(handle, chunk_size), handle.close)

    def info(self, path: str) -> FileInfo:
        relative = self._checked(path)
        try:
            info = resolve_normalized(self._root, relative, path).stat()
        except (FileNotFoundError, NotADirectoryError):
            raise _not_found(path) from None
        if stat.S_ISDIR(info.st_mode):
            return FileInfo(relative, True, None)
        if stat.S_ISREG(info.st_mode):
            return FileInfo(relative, False, info.st_size)
        raise _not_found(path)

    def exists(self, path: str) -> bool:
        try:
            self.info(path)
        except NotFound:
            return False
        return True

    def delete(self, path: str) -> None:
        relative = self._checked(path)
        if not relative:
            raise InvalidPath("Invalid path '': refusing to delete the whole artifact root")
        # Resolve the parent only: a symlink is removed itself, never followed to its target.
        parent = resolve_normalized(self._root, posixpath.dirname(relative), path)
        victim = parent / posixpath.basename(relative)
        if victim.is_symlink() or victim.is_file():
            victim.unlink(missing_ok=True)
        elif victim.is_dir():
            shutil.rmtree(victim)

    def list(
        self, path: str = "", page_token: str | None = None, max_results: int = 1000
    ) -> Page[FileInfo]:
        if max_results < 1:
            raise InvalidParameter(f"max_results must be at least 1, not {max_results}")
        after = decode_after_token(page_token)
        relative = self._checked(path)
        directory = resolve_normalized(self._root, relative, path)
        if not directory.is_dir():
            return Page()
        hidden = UPLOADS_DIR if not relative else None
        names = sorted(
            n for n in os.listdir(directory) if n > after and not _is_temp(n) and n != hidden
        )
        entries: list[FileInfo] = []
        for name in names:
            entry = self._describe(directory / name, posixpath.join(relative, name))
            if entry is not None:
                entries.append(entry)
            if len(entries) == max_results:
                more = name != names[-1]
                return Page(entries, encode_after_token(name) if more else None)
        return Page(entries)

    # -- multipart uploads ------------------------------------------------------------------------
    def create_multipart(self, path: str, num_parts: int) -> MultipartUpload:
        if self._file_target(path).is_dir():
            raise InvalidPath(f"Invalid path {path!r}: a directory has that name")
        return self._uploads.create(self._checked(path), num_parts)

    def put_part(self, path: str, upload_id: str, part_number: int, chunks: Iterable[bytes]) -> str:
        return self._uploads.put_part(self._checked(path), upload_id, part_number, chunks)

    def complete_multipart(self, path: str, upload_id: str, parts: Sequence[UploadedPart]) -> None:
        files = self._uploads.part_files(self._checked(path), upload_id, parts)
        self.put_stream(path, read_parts(files))
        self._uploads.discard(self._checked(path), upload_id)

    def abort_multipart(self, path: str, upload_id: str) -> None:
        self._uploads.discard(self._checked(path), upload_id)

    def abort_stale_uploads(self, older_than_s: float) -> tuple[int, int]:
        return self._uploads.abort_stale(older_than_s)

    # -- helpers ----------------------------------------------------------------------------------
    def _checked(self, path: str) -> str:
        """``path`` normalised; the upload area is the repository's own, never a client's."""
        relative = normalize_artifact_path(path)
        if relative.split("/", 1)[0] == UPLOADS_DIR:
            raise InvalidPath(f"Invalid path {path!r}: {UPLOADS_DIR} is reserved for uploads")
        return relative

    def _file_target(self, path: str) -> Path:
        relative = self._checked(path)
        if not relative:
            raise InvalidPath(f"Invalid path {path!r}: it names the root, not a file")
        return resolve_normalized(self._root, relative, path)

    def _describe(self, entry: Path, relative: str) -> FileInfo | None:
        """A listing entry, or None for what a client may not see (links out of the root)."""
        try:
            resolved = entry.resolve()
            info = resolved.stat()
        except (OSError, RuntimeError):
            return None
        if not is_within(resolved, self._root):
            return None
        if stat.S_ISDIR(info.st_mode):
            return FileInfo(relative, True, None)
        if stat.S_ISREG(info.st_mode):
            return FileInfo(relative, False, info.st_size)
        return None


def _write_atomically(target: Path, chunks: Iterable[bytes], shown: str, fsync: bool) -> int:
    fd, temp = tempfile.mkstemp(prefix=_TEMP_PREFIX, suffix=_TEMP_SUFFIX, dir=target.parent)
    size = 0
    try:
        with os.fdopen(fd, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
                size += len(chunk)
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(temp, _FILE_MODE)
        os.replace(temp, target)
        if fsync:  # the rename itself is durable only once the folder is flushed
            _fsync_folder(target.parent)
    except IsADirectoryError:
        _discard(temp)
        raise InvalidPath(f"Invalid path {shown!r}: a directory has that name") from None
    except BaseException:
        _discard(temp)
        raise
    return size


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _discard(temp: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temp)


def _read_chunks(handle: BinaryIO, chunk_size: int) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(chunk_size):
            yield chunk


def _is_temp(name: str) -> bool:
    return name.startswith(_TEMP_PREFIX) and name.endswith(_TEMP_SUFFIX)


def _not_found(path: str) -> NotFound:
    return NotFound(f"Artifact {path!r} does not exist or is not a file")
