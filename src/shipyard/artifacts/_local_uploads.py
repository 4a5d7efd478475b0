"""Multipart uploads into a local folder: parts are hidden files, joined atomically on completion.

Each upload is a folder ``<root>/.shipyard-uploads/<id>/`` holding ``upload.json`` (the target path
and the part count) and one file per stored part named ``<number>.<etag>``. A part is written to a
temp name and renamed, so a retried part replaces the old one whole. Server workers share nothing
but this folder, so any worker can take any part. The repository streams the parts, in order,
through its atomic writer, so the file appears whole or not at all.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from shipyard.artifacts._protocol import (
    DEFAULT_CHUNK_SIZE,
    MAX_UPLOAD_PARTS,
    MultipartUpload,
    UploadedPart,
)
from shipyard.errors import InvalidParameter, NotFound

__all__ = ["UPLOADS_DIR", "LocalUploads", "check_num_parts", "read_parts"]

UPLOADS_DIR = ".shipyard-uploads"
_META = "upload.json"
_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
_ETAG = re.compile(r"^[0-9a-f]{32}$")


def check_num_parts(num_parts: int) -> None:
    if not 1 <= num_parts <= MAX_UPLOAD_PARTS:
        limit = MAX_UPLOAD_PARTS
        raise InvalidParameter(f"num_parts must be between 1 and {limit}, not {num_parts}")


class LocalUploads:
    """The upload area of one ``LocalArtifactRepository``; paths are already checked."""

    def __init__(self, root: Path) -> None:
        self._area = root / UPLOADS_DIR

    def create(self, path: str, num_parts: int) -> MultipartUpload:
        check_num_parts(num_parts)
        upload_id = uuid.uuid4().hex
        folder = self._area / upload_id
        folder.mkdir(parents=True)
        (folder / _META).write_text(json.dumps({"path": path, "num_parts": num_parts}))
        return MultipartUpload(upload_id)

    def put_part(self, path: str, upload_id: str, part_number: int, chunks: Iterable[bytes]) -> str:
        folder, num_parts = self._open(path, upload_id)
        if not 1 <= part_number <= num_parts:
            raise InvalidParameter(f"part_number must be between 1 and {num_parts}")
        digest = hashlib.md5(usedforsecurity=False)  # an ETag, as S3's, not a security check
        fd, temp = tempfile.mkstemp(prefix=".part-", suffix=".partial", dir=folder)
        try:
            with os.fdopen(fd, "wb") as handle:
                for chunk in chunks:
                    digest.update(chunk)
                    handle.write(chunk)
            etag = digest.hexdigest()
            for old in folder.glob(f"{part_number}.*"):
                old.unlink(missing_ok=True)
            os.replace(temp, folder / f"{part_number}.{etag}")
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise
        return etag

    def part_files(self, path: str, upload_id: str, parts: Sequence[UploadedPart]) -> list[Path]:
        """The stored files of ``parts``, in order, each checked against its reported ETag."""
        folder, _ = self._open(path, upload_id)
        numbers = [part.part_number for part in parts]
        if not parts or numbers != sorted(set(numbers)):
            raise InvalidParameter("parts must list each part once, in ascending part_number")
        files: list[Path] = []
        for part in parts:
            etag = part.etag.strip('"')
            stored = folder / f"{part.part_number}.{etag}"
            if not _ETAG.match(etag) or not stored.is_file():
                raise InvalidParameter(
                    f"Part {part.part_number} of upload {upload_id} was not stored with ETag "
                    f"{part.etag[:40]!r}"
                )
            files.append(stored)
        return files

    def discard(self, path: str, upload_id: str) -> None:
        try:
            folder, _ = self._open(path, upload_id)
        except NotFound:
            return
        shutil.rmtree(folder, ignore_errors=True)

    def abort_stale(self, older_than_s: float) -> tuple[int, int]:
        """Remove uploads untouched for ``older_than_s`` seconds: (uploads removed, bytes freed).

        A client that died between ``create`` and ``complete`` leaves its parts here; nothing
        else ever removes them.
        """
        if not self._area.is_dir():
            return 0, 0
        cutoff = time.time() - older_than_s
        removed = freed = 0
        for folder in self._area.iterdir():
            if not folder.is_dir() or not _UPLOAD_ID.match(folder.name):
                continue
            files = [f for f in folder.iterdir() if f.is_file()]
            newest = max((f.stat().st_mtime for f in files), default=folder.stat().st_mtime)
            if newest >= cutoff:
                continue
            freed += sum(f.stat().st_size for f in files if f.name != _META)
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
        return removed, freed

    def _open(self, path: str, upload_id: str) -> tuple[Path, int]:
        if not _UPLOAD_ID.match(upload_id):
            raise InvalidParameter(f"Invalid upload_id {upload_id[:100]!r}")
        folder = self._area / upload_id
        try:
            meta = json.loads((folder / _META).read_text())
        except (FileNotFoundError, NotADirectoryError, ValueError):
            meta = None
        # An upload started for another path is as unknown as one never started.
        if not isinstance(meta, dict) or meta.get("path") != path:
            raise NotFound(f"Multipart upload {upload_id} of {path!r} does not exist")
        return folder, int(meta["num_parts"])


def read_parts(files: Sequence[Path], chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
    for file in files:
        with file.open("rb") as handle:
            while chunk := handle.read(chunk_size):
                yield chunk
