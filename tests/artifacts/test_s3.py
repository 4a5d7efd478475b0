"""What only the S3 repository has to prove: prefixes, keys written around it, S3's own paging,
aborted uploads and URIs. The shared contract runs in ``test_repositories.py``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from shipyard.artifacts import (
    FileInfo,
    S3ArtifactRepository,
    parse_artifact_uri,
    repository_for_uri,
)
from shipyard.errors import InvalidPath, NotFound

MiB = 1024 * 1024


@pytest.fixture
def bucket(moto_server: Any) -> str:
    name: str = moto_server.new_bucket()
    return name


def repo_at(moto_server: Any, bucket: str, prefix: str) -> S3ArtifactRepository:
    return S3ArtifactRepository(bucket, prefix, moto_server.settings)


def test_a_prefix_is_a_boundary(moto_server: Any, bucket: str) -> None:
    """``runs/r1`` must not see or delete ``runs/r10``, whose keys start with the same text."""
    one, ten = repo_at(moto_server, bucket, "runs/r1"), repo_at(moto_server, bucket, "runs/r10")
    one.put_stream("x", [b"one"])
    ten.put_stream("x", [b"ten"])
    ten.put_stream("d/y", [b"ten"])
    assert one.list("").items == [FileInfo("x", False, 3)]
    one.delete("x")
    assert set(moto_server.keys(bucket)) == {"runs/r10/x", "runs/r10/d/y"}
    assert ten.exists("d") and not one.exists("d")


def test_keys_written_around_shipyard_are_not_listed(moto_server: Any, bucket: str) -> None:
    client = moto_server.client()
    for key in ("p/ok.txt", "p/../evil", "p//double", "p/back\\slash", "p/#frag", "p/dir/"):
        client.put_object(Bucket=bucket, Key=key, Body=b"x")
    repo = repo_at(moto_server, bucket, "p")
    assert repo.list("").items == [FileInfo("dir", True, None), FileInfo("ok.txt", False, 1)]
    with pytest.raises(InvalidPath):
        repo.open_stream("../evil")


def test_paging_skips_unlisted_keys_across_s3_requests(moto_server: Any, bucket: str) -> None:
    client = moto_server.client()
    for name in ("#1", "#2", "#3", "a", "b", "c"):  # "#" sorts first and is never listed
        client.put_object(Bucket=bucket, Key=f"p/{name}", Body=b"x")
    repo = repo_at(moto_server, bucket, "p")
    first = repo.list("", max_results=2)
    assert [e.path for e in first.items] == ["a", "b"] and first.next_page_token
    rest = repo.list("", page_token=first.next_page_token, max_results=2)
    assert [e.path for e in rest.items] == ["c"] and rest.next_page_token is None


class Boom(Exception):
    pass


def test_a_broken_large_upload_is_aborted(moto_server: Any, bucket: str) -> None:
    repo = repo_at(moto_server, bucket, "p")

    def chunks() -> Iterator[bytes]:
        for _ in range(20):  # two and a half 8 MiB parts, then the connection drops
            yield os.urandom(MiB)
        raise Boom

    with pytest.raises(Boom):
        repo.put_stream("big.bin", chunks())
    assert moto_server.keys(bucket) == {}
    uploads = moto_server.client().list_multipart_uploads(Bucket=bucket)
    assert uploads.get("Uploads", []) == []


def test_large_upload_round_trips(moto_server: Any, bucket: str) -> None:
    repo = repo_at(moto_server, bucket, "p")
    data = os.urandom(17 * MiB + 5)  # three parts, the last one small
    assert repo.put_stream("big.bin", (data[i : i + MiB] for i in range(0, len(data), MiB))) == len(
        data
    )
    assert moto_server.keys(bucket)["p/big.bin"] == data


def test_missing_bucket_is_not_found(moto_server: Any) -> None:
    repo = repo_at(moto_server, "no-such-bucket-here", "p")
    with pytest.raises(NotFound):
        repo.open_stream("x")


def test_s3_uris(moto_server: Any, bucket: str) -> None:
    found, path = repository_for_uri(f"s3://{bucket}/exp/1/run", s3=moto_server.settings)
    assert isinstance(found, S3ArtifactRepository) and path == ""
    assert found.uri == f"s3://{bucket}/exp/1/run"
    found.put_stream("f.txt", [b"hi"])
    assert moto_server.keys(bucket) == {"exp/1/run/f.txt": b"hi"}
    assert parse_artifact_uri("s3://bucket.name/a%20b/c").path == "a b/c"
    for bad in ("s3://bucket/../etc", "s3://B_AD/x", "s3://user:pw@bucket/x", "s3://bucket/a#b"):
        with pytest.raises(InvalidPath):
            repository_for_uri(bad, s3=moto_server.settings)
