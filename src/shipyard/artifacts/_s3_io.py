"""The boto3 side of the S3 repository: one shared client per configuration, errors, and the three
operations that take more than one request (streaming upload, listing one level, deleting a tree).

boto3 is imported on first use only (the ``s3`` extra); its clients are thread-safe and pool their
connections, so one per distinct ``S3Settings`` serves every repository and thread in a process.
"""

from __future__ import annotations

import contextlib
import functools
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from shipyard.artifacts._protocol import MAX_UPLOAD_PARTS
from shipyard.errors import FeatureNotImplemented, InvalidParameter, NotFound, ShipyardError
from shipyard.settings import S3Settings

__all__ = ["Entry", "delete_tree", "list_level", "s3_client", "s3_errors", "upload_stream"]

Entry = tuple[str, bool, int | None]  # name ("x" or "dir/"), is_dir, size
_LIST_PAGE = 1000  # S3's own maximum per request
_DELETE_BATCH = 1000
_IN_FLIGHT = 3  # parts uploading while the next one fills: memory is about 4 parts
_NOT_FOUND = {"NoSuchKey", "NotFound", "404", "NoSuchUpload"}
_BAD_PARTS = {"InvalidPart", "InvalidPartOrder", "EntityTooSmall", "MalformedXML"}


@functools.lru_cache(maxsize=8)
def s3_client(settings: S3Settings) -> Any:
    try:
        import boto3
        from botocore.config import Config
    except ImportError:  # pragma: no cover - depends on the installed extras
        raise FeatureNotImplemented(
            "S3 artifact storage needs boto3: pip install 'shipyard-ml[s3]'"
        ) from None
    config = Config(
        max_pool_connections=32,
        retries={"max_attempts": 5, "mode": "standard"},
        signature_version="s3v4",
        # S3-compatible servers (MinIO, moto) are addressed by path, not by bucket host names.
        s3={"addressing_style": "path"} if settings.endpoint_url else None,
    )
    return boto3.session.Session().client(
        "s3",
        endpoint_url=settings.endpoint_url,
        region_name=settings.region,
        aws_access_key_id=settings.access_key_id,
        aws_secret_access_key=settings.secret_access_key,
        aws_session_token=settings.session_token,
        verify=settings.verify_tls,
        config=config,
    )


@contextlib.contextmanager
def s3_errors(what: str) -> Iterator[None]:
    """Turn boto3's failures into Shipyard's: a missing key is ``NotFound``, and so on."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code, message = str(error.get("Code", "")), str(error.get("Message", ""))
        if code in _NOT_FOUND:
            raise NotFound(f"Artifact {what!r} does not exist or is not a file") from None
        if code in _BAD_PARTS:
            raise InvalidParameter(f"S3 refused the parts of {what!r}: {message}") from None
        if code == "NoSuchBucket":
            raise NotFound(f"S3 bucket of {what!r} does not exist: {message}") from None
        raise ShipyardError(f"S3 refused an operation on {what!r}: {code} {message}") from None
    except BotoCoreError as exc:
        raise ShipyardError(f"S3 could not be reached for {what!r}: {exc}") from None


def upload_stream(
    client: Any, bucket: str, key: str, chunks: Iterable[bytes], part_size: int
) -> int:
    """Store ``chunks`` as object ``key``: one PUT when it fits in a part, else a multipart
    upload with a few parts in flight. Nothing appears under ``key`` unless every chunk arrived."""
    iterator = iter(chunks)
    first = _fill(iterator, part_size)
    if len(first) < part_size:
        with s3_errors(key):
            client.put_object(Bucket=bucket, Key=key, Body=first)
        return len(first)
    with s3_errors(key):
        upload_id = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    try:
        parts, size = _upload_parts(client, (bucket, key, upload_id), first, iterator, part_size)
        with s3_errors(key):
            client.complete_multipart_upload(
                Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
    except BaseException:
        with contextlib.suppress(Exception):
            client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        raise
    return size


def _upload_parts(
    client: Any,
    where: tuple[str, str, str],
    block: bytes,
    rest: Iterator[bytes],
    part_size: int,
) -> tuple[list[dict[str, Any]], int]:
    bucket, key, upload_id = where

    def put(number: int, body: bytes) -> dict[str, Any]:
        with s3_errors(key):
            answer = client.upload_part(
                Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body
            )
        return {"PartNumber": number, "ETag": answer["ETag"]}

    parts: list[dict[str, Any]] = []
    pending: deque[Future[dict[str, Any]]] = deque()
    number, size = 0, 0
    with ThreadPoolExecutor(max_workers=_IN_FLIGHT, thread_name_prefix="s3-part") as pool:
        while block:
            number += 1
            if number > MAX_UPLOAD_PARTS:
                raise InvalidParameter(f"{key!r} needs more than {MAX_UPLOAD_PARTS} parts")
            size += len(block)
            pending.append(pool.submit(put, number, block))
            if len(pending) >= _IN_FLIGHT:
                parts.append(pending.popleft().result())
            block = _fill(rest, part_size)
        parts.extend(future.result() for future in pending)
    return parts, size


def _fill(chunks: Iterator[bytes], size: int) -> bytes:
    """The next ``size`` bytes or more (whole chunks), or fewer at the end of the stream."""
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        if len(buffer) >= size:
            break
    return bytes(buffer)


def list_level(
    client: Any,
    bucket: str,
    prefix: str,
    after: str,
    limit: int,
    keep: Callable[[str], bool] = bool,
) -> list[Entry]:
    """Up to ``limit`` entries directly under ``prefix`` (``""`` or ending in ``/``) whose names
    sort after ``after`` and pass ``keep``, in S3's key order; folder names end in ``/``."""
    request: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "Delimiter": "/"}
    if after:
        request["StartAfter"] = prefix + after
    found: list[Entry] = []
    while len(found) < limit:
        with s3_errors(prefix):
            page = client.list_objects_v2(**request, MaxKeys=min(_LIST_PAGE, limit - len(found)))
        level: list[Entry] = [
            (p["Prefix"][len(prefix) :], True, None) for p in _get(page, "CommonPrefixes")
        ]
        level += [(o["Key"][len(prefix) :], False, int(o["Size"])) for o in _get(page, "Contents")]
        # S3 may return a folder again when StartAfter falls inside it; keyset order drops it.
        found += sorted(entry for entry in level if entry[0] > after and keep(entry[0]))
        if not page.get("IsTruncated"):
            break
        request.pop("StartAfter", None)
        request["ContinuationToken"] = page["NextContinuationToken"]
    return found[:limit]


def delete_tree(client: Any, bucket: str, key: str) -> None:
    """Delete object ``key`` and every object below ``key/``."""
    with s3_errors(key):
        client.delete_object(Bucket=bucket, Key=key)
        pages = client.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=key + "/", PaginationConfig={"PageSize": _DELETE_BATCH}
        )
        for page in pages:
            objects = [{"Key": o["Key"]} for o in _get(page, "Contents")]
            if objects:
                client.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})


def _get(page: dict[str, Any], name: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = page.get(name) or []
    return items
