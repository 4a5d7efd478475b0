"""The multipart half of the repository contract: parts in any order, retried, joined atomically.

S3 refuses parts under 5 MiB except the last, so the first part is 5 MiB on every backend.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

from shipyard.artifacts import (
    MAX_UPLOAD_PARTS,
    ArtifactRepository,
    LocalArtifactRepository,
    MultipartArtifactRepository,
    UploadedPart,
)
from shipyard.errors import InvalidParameter, InvalidPath, NotFound, ShipyardError

MiB = 1024 * 1024
FIRST = os.urandom(5 * MiB)
LAST = b"the end"


@pytest.fixture
def mp(repo: ArtifactRepository) -> MultipartArtifactRepository:
    assert isinstance(repo, MultipartArtifactRepository)
    return repo


def read(repo: ArtifactRepository, path: str) -> bytes:
    with repo.open_stream(path) as stream:
        return b"".join(stream)


def upload_two(repo: MultipartArtifactRepository, path: str) -> tuple[str, list[UploadedPart]]:
    upload = repo.create_multipart(path, 2)
    second = repo.put_part(path, upload.upload_id, 2, [LAST])  # parts may come in any order
    first = repo.put_part(path, upload.upload_id, 1, [FIRST[: 2 * MiB], FIRST[2 * MiB :]])
    return upload.upload_id, [UploadedPart(1, first), UploadedPart(2, second)]


def test_parts_join_into_one_file(mp: MultipartArtifactRepository) -> None:
    upload_id, parts = upload_two(mp, "models/big model.bin")
    assert not mp.exists("models/big model.bin")  # invisible until completed
    assert mp.list("models").items == []
    mp.complete_multipart("models/big model.bin", upload_id, parts)
    assert read(mp, "models/big model.bin") == FIRST + LAST
    assert mp.info("models/big model.bin").file_size == len(FIRST) + len(LAST)
    # Completing again is a no-op on S3 (it is idempotent) and NotFound locally; never damage.
    with contextlib.suppress(NotFound):
        mp.complete_multipart("models/big model.bin", upload_id, parts)
    assert read(mp, "models/big model.bin") == FIRST + LAST


def test_a_retried_part_replaces_the_first_attempt(mp: MultipartArtifactRepository) -> None:
    upload = mp.create_multipart("f.bin", 2)
    mp.put_part("f.bin", upload.upload_id, 1, [b"x" * (5 * MiB)])
    first = mp.put_part("f.bin", upload.upload_id, 1, [FIRST])
    last = mp.put_part("f.bin", upload.upload_id, 2, [LAST])
    mp.complete_multipart(
        "f.bin", upload.upload_id, [UploadedPart(1, f'"{first}"'), UploadedPart(2, last)]
    )
    assert read(mp, "f.bin") == FIRST + LAST


@pytest.mark.parametrize(
    "bad",
    [
        lambda parts: [*parts, UploadedPart(3, parts[1].etag)],  # never stored
        lambda parts: [parts[1], parts[0]],
        lambda parts: [parts[0], parts[0], parts[1]],
        lambda parts: [parts[0], UploadedPart(2, "0" * 32)],
        lambda parts: [],
    ],
    ids=["never-stored", "unordered", "twice", "wrong-etag", "none"],
)
def test_bad_part_lists_are_refused(mp: MultipartArtifactRepository, bad: object) -> None:
    upload_id, parts = upload_two(mp, "f.bin")
    with pytest.raises(InvalidParameter):
        mp.complete_multipart("f.bin", upload_id, bad(parts))  # type: ignore[operator]
    assert not mp.exists("f.bin")


def test_abort_drops_everything(mp: MultipartArtifactRepository) -> None:
    upload_id, parts = upload_two(mp, "f.bin")
    mp.abort_multipart("f.bin", upload_id)
    mp.abort_multipart("f.bin", upload_id)  # twice is fine
    with pytest.raises(ShipyardError):  # NotFound locally and on AWS; moto_server answers 500
        mp.complete_multipart("f.bin", upload_id, parts)
    assert not mp.exists("f.bin") and mp.list("").items == []


def test_part_counts_and_targets_are_checked(mp: MultipartArtifactRepository) -> None:
    for count in (0, MAX_UPLOAD_PARTS + 1):
        with pytest.raises(InvalidParameter):
            mp.create_multipart("f.bin", count)
    upload = mp.create_multipart("f.bin", 2)
    for number in (0, MAX_UPLOAD_PARTS + 1):
        with pytest.raises(InvalidParameter, match="part_number"):
            mp.put_part("f.bin", upload.upload_id, number, [b"x"])
    mp.abort_multipart("f.bin", upload.upload_id)
    mp.put_stream("d/x", [b"1"])
    with pytest.raises(InvalidPath):
        mp.create_multipart("d", 1)  # over a directory
    with pytest.raises(InvalidPath):
        mp.create_multipart("", 1)


@pytest.mark.parametrize("path", ["../x", "%252e%252e%252fx", "a\\..\\..\\x", "/abs", "a;b", "a#b"])
def test_every_multipart_operation_checks_paths(mp: MultipartArtifactRepository, path: str) -> None:
    for call in (
        lambda: mp.create_multipart(path, 1),
        lambda: mp.put_part(path, "0" * 32, 1, [b"x"]),
        lambda: mp.complete_multipart(path, "0" * 32, [UploadedPart(1, "0" * 32)]),
        lambda: mp.abort_multipart(path, "0" * 32),
    ):
        with pytest.raises(InvalidPath):
            call()


# -- local only: the upload area ------------------------------------------------------------------
# (AWS binds an upload id to its key itself; moto_server does not, so this is proven locally.)


def test_local_upload_belongs_to_its_path(tmp_path: Path) -> None:
    repo = LocalArtifactRepository(tmp_path / "root")
    upload_id, parts = upload_two(repo, "mine.bin")
    for call in (
        lambda: repo.complete_multipart("theirs.bin", upload_id, parts),
        lambda: repo.put_part("theirs.bin", upload_id, 1, [b"x"]),
    ):
        with pytest.raises(NotFound):
            call()
    repo.abort_multipart("theirs.bin", upload_id)  # someone else's path aborts nothing
    assert not repo.exists("theirs.bin")
    repo.complete_multipart("mine.bin", upload_id, parts)
    assert read(repo, "mine.bin") == FIRST + LAST


def test_local_upload_area_is_hidden_and_unreachable(tmp_path: Path) -> None:
    repo = LocalArtifactRepository(tmp_path / "root")
    upload = repo.create_multipart("f.bin", 1)
    area = tmp_path / "root" / ".shipyard-uploads"
    assert (area / upload.upload_id / "upload.json").is_file()
    assert repo.list("").items == []
    meta = f".shipyard-uploads/{upload.upload_id}/upload.json"
    for call in (
        lambda: repo.open_stream(meta),
        lambda: repo.put_stream(meta, [b"{}"]),
        lambda: repo.delete(".shipyard-uploads"),
        lambda: repo.list(".shipyard-uploads"),
        lambda: repo.create_multipart(".shipyard-uploads/x", 1),
    ):
        with pytest.raises(InvalidPath, match="reserved"):
            call()
    repo.abort_multipart("f.bin", upload.upload_id)
    assert list(area.iterdir()) == []


@pytest.mark.parametrize("upload_id", ["../../etc", "0" * 31 + "/", "", "A" * 32])
def test_local_upload_ids_are_not_paths(tmp_path: Path, upload_id: str) -> None:
    repo = LocalArtifactRepository(tmp_path / "root")
    with pytest.raises(InvalidParameter, match="upload_id"):
        repo.put_part("f.bin", upload_id, 1, [b"pwned"])
    assert not (tmp_path / "etc").exists()


def test_local_etags_are_not_paths(tmp_path: Path) -> None:
    repo = LocalArtifactRepository(tmp_path / "root")
    upload = repo.create_multipart("f.bin", 1)
    repo.put_part("f.bin", upload.upload_id, 1, [b"data"])
    (tmp_path / "root" / "planted").write_bytes(b"secret")
    with pytest.raises(InvalidParameter):
        repo.complete_multipart("f.bin", upload.upload_id, [UploadedPart(1, "../../../planted")])
    assert not repo.exists("f.bin")
