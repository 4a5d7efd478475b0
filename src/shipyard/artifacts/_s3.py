"""Artifacts in an S3 bucket (or an S3-compatible server) below a key prefix.

Folders are key prefixes. An object appears only when its PUT or multipart upload completes, so
writes are atomic by S3's own rules, and a failed stream aborts its upload. Bodies larger than one
part go up as a multipart upload with a few parts in flight, so memory stays at a few parts
whatever the size. Listing is one level at a time in S3's key order, where a folder sorts as its
name plus ``/``. S3 would let ``a`` be a file and ``a/b`` exist too; a local folder cannot, and a
tree like that cannot be downloaded, so writes refuse both (as the local repository does).
"""

from __future__ import annotations

import datetime
import posixpath
import tempfile
from collections.abc import Iterable, Sequence
from typing import Any

from shipyard.artifacts._local_uploads import check_num_parts
from shipyard.artifacts._paths import normalize_artifact_path
from shipyard.artifacts._protocol import (
    DEFAULT_CHUNK_SIZE,
    MAX_UPLOAD_PARTS,
    ArtifactStream,
    FileInfo,
    MultipartUpload,
    UploadedPart,
)
from shipyard.artifacts._s3_io import (
    Entry,
    delete_tree,
    list_level,
    s3_client,
    s3_errors,
    upload_stream,
)
from shipyard.artifacts._tokens import decode_after_token, encode_after_token
from shipyard.errors import InvalidParameter, InvalidPath, NotFound
from shipyard.settings import S3Settings
from shipyard.store import Page

__all__ = ["DEFAULT_PART_SIZE", "S3ArtifactRepository"]

DEFAULT_PART_SIZE = 8 * 1024 * 1024
_MIN_PART_SIZE = 5 * 1024 * 1024  # S3 refuses smaller parts, except the last one
_PRESIGNED_SECONDS = 6 * 3600  # long enough for a slow client's largest upload


class S3ArtifactRepository:
    """An ``ArtifactRepository`` (multipart too) rooted at ``s3://bucket/prefix``."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        settings: S3Settings | None = None,
        *,
        part_size: int = DEFAULT_PART_SIZE,
    ) -> None:
        self._bucket = bucket
        self._prefix = normalize_artifact_path(prefix)
        self._settings = settings or S3Settings()
        self._part_size = max(part_size, _MIN_PART_SIZE)

    def __repr__(self) -> str:
        return f"S3ArtifactRepository('s3://{self._bucket}/{self._prefix}')"

    @property
    def uri(self) -> str:
        return f"s3://{self._bucket}/{self._prefix}".rstrip("/")

    @property
    def _client(self) -> Any:
        return s3_client(self._settings)

    def put_stream(self, path: str, chunks: Iterable[bytes]) -> int:
        relative = self._file_path(path)
        self._check_free(relative, path)
        return upload_stream(
            self._client, self._bucket, self._key(relative), chunks, self._part_size
        )

    def open_stream(self, path: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> ArtifactStream:
        relative = normalize_artifact_path(path)
        if not relative:
            raise NotFound(f"Artifact {path!r} does not exist or is not a file")
        with s3_errors(path):
            answer = self._client.get_object(Bucket=self._bucket, Key=self._key(relative))
        body = answer["Body"]
        return ArtifactStream(
            int(answer["ContentLength"]), body.iter_chunks(chunk_size), body.close
        )

    def info(self, path: str) -> FileInfo:
        relative = normalize_artifact_path(path)
        size = self._file_size(relative) if relative else None
        if size is not None:
            return FileInfo(relative, False, size)
        if self._has_children(relative):
            return FileInfo(relative, True, None)
        raise NotFound(f"Artifact {path!r} does not exist")

    def exists(self, path: str) -> bool:
        try:
            self.info(path)
        except NotFound:
            return False
        return True

    def list(
        self, path: str = "", page_token: str | None = None, max_results: int = 1000
    ) -> Page[FileInfo]:
        if max_results < 1:
            raise InvalidParameter(f"max_results must be at least 1, not {max_results}")
        after = decode_after_token(page_token)
        relative = normalize_artifact_path(path)
        prefix = self._folder_prefix(relative)
        found = list_level(
            self._client, self._bucket, prefix, after, max_results + 1, keep=_is_plain_name
        )
        items = [_file_info(relative, entry) for entry in found[:max_results]]
        more = len(found) > max_results
        return Page(items, encode_after_token(found[max_results - 1][0]) if more else None)

    def delete(self, path: str) -> None:
        relative = normalize_artifact_path(path)
        if not relative:
            raise InvalidPath("Invalid path '': refusing to delete the whole artifact root")
        delete_tree(self._client, self._bucket, self._key(relative))

    # -- multipart uploads ------------------------------------------------------------------------
    def create_multipart(self, path: str, num_parts: int) -> MultipartUpload:
        check_num_parts(num_parts)
        relative = self._file_path(path)
        self._check_free(relative, path)
        key = self._key(relative)
        with s3_errors(path):
            upload_id = self._client.create_multipart_upload(Bucket=self._bucket, Key=key)
            urls = tuple(
                self._client.generate_presigned_url(
                    "upload_part",
                    Params={
                        "Bucket": self._bucket,
                        "Key": key,
                        "UploadId": upload_id["UploadId"],
                        "PartNumber": number,
                    },
                    ExpiresIn=_PRESIGNED_SECONDS,
                )
                for number in range(1, num_parts + 1)
            )
        return MultipartUpload(str(upload_id["UploadId"]), urls)

    def put_part(self, path: str, upload_id: str, part_number: int, chunks: Iterable[bytes]) -> str:
        if not 1 <= part_number <= MAX_UPLOAD_PARTS:
            raise InvalidParameter(f"part_number must be between 1 and {MAX_UPLOAD_PARTS}")
        key = self._key(self._file_path(path))
        # boto3 needs a seekable body of known length: spooled, so a part stays off the heap.
        with tempfile.SpooledTemporaryFile(max_size=DEFAULT_CHUNK_SIZE) as spool:
            for chunk in chunks:
                spool.write(chunk)
            spool.seek(0)
            with s3_errors(path):
                answer = self._client.upload_part(
                    Bucket=self._bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=part_number,
                    Body=spool,
                )
        return str(answer["ETag"]).strip('"')

    def complete_multipart(self, path: str, upload_id: str, parts: Sequence[UploadedPart]) -> None:
        numbers = [part.part_number for part in parts]
        if not parts or numbers != sorted(set(numbers)):
            raise InvalidParameter("parts must list each part once, in ascending part_number")
        listed = [
            {"PartNumber": p.part_number, "ETag": f'"{p.etag.strip(chr(34))}"'} for p in parts
        ]
        with s3_errors(path):
            self._client.complete_multipart_upload(
                Bucket=self._bucket,
                Key=self._key(self._file_path(path)),
                UploadId=upload_id,
                MultipartUpload={"Parts": listed},
            )

    def abort_multipart(self, path: str, upload_id: str) -> None:
        key = self._key(self._file_path(path))
        try:
            with s3_errors(path):
                self._client.abort_multipart_upload(
                    Bucket=self._bucket, Key=key, UploadId=upload_id
                )
        except NotFound:
            pass

    def abort_stale_uploads(self, older_than_s: float) -> tuple[int, int]:
        cutoff = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=older_than_s)
        prefix = f"{self._prefix}/" if self._prefix else ""
        removed = freed = 0
        with s3_errors(self._prefix or "/"):
            pages = self._client.get_paginator("list_multipart_uploads")
            for page in pages.paginate(Bucket=self._bucket, Prefix=prefix):
                for upload in page.get("Uploads", []):
                    if upload["Initiated"] >= cutoff:
                        continue
                    key, upload_id = upload["Key"], upload["UploadId"]
                    parts = self._client.get_paginator("list_parts")
                    for part_page in parts.paginate(
                        Bucket=self._bucket, Key=key, UploadId=upload_id
                    ):
                        freed += sum(p["Size"] for p in part_page.get("Parts", []))
                    self._client.abort_multipart_upload(
                        Bucket=self._bucket, Key=key, UploadId=upload_id
                    )
                    removed += 1
        return removed, freed

    # -- keys ---------------------------------------------------------------------------------
    def _key(self, relative: str) -> str:
        return (
            f"{self._prefix}/{relative}" if self._prefix and relative else self._prefix or relative
        )

    def _folder_prefix(self, relative: str) -> str:
        key = self._key(relative)
        return f"{key}/" if key else ""

    def _file_path(self, path: str) -> str:
        relative = normalize_artifact_path(path)
        if not relative:
            raise InvalidPath(f"Invalid path {path!r}: it names the root, not a file")
        return relative

    def _file_size(self, relative: str) -> int | None:
        try:
            with s3_errors(relative):
                answer = self._client.head_object(Bucket=self._bucket, Key=self._key(relative))
        except NotFound:
            return None
        return int(answer["ContentLength"])

    def _has_children(self, relative: str) -> bool:
        prefix = self._folder_prefix(relative)
        with s3_errors(relative):
            answer = self._client.list_objects_v2(Bucket=self._bucket, Prefix=prefix, MaxKeys=1)
        return bool(answer.get("KeyCount") or answer.get("Contents"))

    def _check_free(self, relative: str, shown: str) -> None:
        """Refuse a file over a folder or under a file (two requests when the folder exists)."""
        if self._has_children(relative):
            raise InvalidPath(f"Invalid path {shown!r}: a directory has that name")
        parent = posixpath.dirname(relative)
        if not parent or self._has_children(parent):
            return  # an existing folder's parents were checked when it got its first file
        segments = parent.split("/")
        for depth in range(1, len(segments) + 1):
            if self._file_size("/".join(segments[:depth])) is not None:
                raise InvalidPath(f"Invalid path {shown!r}: a parent of it is a file")


def _is_plain_name(name: str) -> bool:
    """Keys written around Shipyard (``a//b``, ``../x``) are not listed: no client can use them."""
    bare = name.removesuffix("/")
    try:
        return bool(bare) and normalize_artifact_path(bare) == bare and "/" not in bare
    except InvalidPath:
        return False


def _file_info(folder: str, entry: Entry) -> FileInfo:
    name, is_dir, size = entry
    path = posixpath.join(folder, name.removesuffix("/")) if folder else name.removesuffix("/")
    return FileInfo(path, is_dir, None if is_dir else size)
