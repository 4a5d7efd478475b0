"""The artifact-repository contract: every backend runs this suite (local folder, S3 on moto).

A backend joins by adding a factory to ``REPOSITORIES`` in ``conftest.py``.
"""

from __future__ import annotations

import os
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shipyard.artifacts import ArtifactRepository, FileInfo, LocalArtifactRepository
from shipyard.errors import InvalidParameter, InvalidPath, NotFound


def read(repo: ArtifactRepository, path: str) -> bytes:
    with repo.open_stream(path) as stream:
        return b"".join(stream)


def all_entries(repo: ArtifactRepository, path: str = "") -> list[FileInfo]:
    found: list[FileInfo] = []
    token: str | None = None
    while True:
        page = repo.list(path, page_token=token, max_results=2)
        found.extend(page.items)
        token = page.next_page_token
        if not token:
            return found


class Boom(Exception):
    pass


def failing(after: int, chunk: bytes = b"x" * 1000) -> Iterator[bytes]:
    for _ in range(after):
        yield chunk
    raise Boom("connection lost")


# -- the contract ---------------------------------------------------------------------------------


def test_round_trip_keeps_every_byte(repo: ArtifactRepository) -> None:
    data = bytes(range(256)) * 1000
    assert repo.put_stream("dir/sub/data.bin", [data[:1000], data[1000:]]) == len(data)
    assert read(repo, "dir/sub/data.bin") == data
    assert repo.info("dir/sub/data.bin") == FileInfo("dir/sub/data.bin", False, len(data))
    assert repo.info("dir") == FileInfo("dir", True, None)


def test_names_with_spaces_and_unicode(repo: ArtifactRepository) -> None:
    repo.put_stream("my dir/ünïcödé ✓.txt", [b"hi"])
    assert read(repo, "my dir/ünïcödé ✓.txt") == b"hi"
    assert [e.path for e in repo.list("my dir").items] == ["my dir/ünïcödé ✓.txt"]


def test_empty_file(repo: ArtifactRepository) -> None:
    assert repo.put_stream("empty", []) == 0
    assert read(repo, "empty") == b""
    assert repo.info("empty").file_size == 0


def test_overwrite_replaces_content(repo: ArtifactRepository) -> None:
    repo.put_stream("f.txt", [b"old content"])
    repo.put_stream("f.txt", [b"new"])
    assert read(repo, "f.txt") == b"new"


def test_list_with_sizes_sorted_and_paginated(repo: ArtifactRepository) -> None:
    for name, size in [("c.txt", 3), ("a.txt", 1), ("b/x.txt", 7), ("d.txt", 0), ("e.txt", 5)]:
        repo.put_stream(name, [b"z" * size])
    assert all_entries(repo) == [
        FileInfo("a.txt", False, 1),
        FileInfo("b", True, None),
        FileInfo("c.txt", False, 3),
        FileInfo("d.txt", False, 0),
        FileInfo("e.txt", False, 5),
    ]
    assert all_entries(repo, "b") == [FileInfo("b/x.txt", False, 7)]
    first = repo.list("", max_results=2)
    assert len(first.items) == 2 and first.next_page_token
    last = repo.list("", page_token=repo.list("", max_results=4).next_page_token)
    assert last.items == [FileInfo("e.txt", False, 5)] and last.next_page_token is None


def test_files_and_absent_paths_list_as_empty(repo: ArtifactRepository) -> None:
    repo.put_stream("a/f.txt", [b"1"])
    assert repo.list("a/f.txt").items == []
    assert repo.list("nope").items == []
    assert repo.list("").items == [FileInfo("a", True, None)]


def test_bad_page_token_and_size(repo: ArtifactRepository) -> None:
    with pytest.raises(InvalidParameter, match="page token"):
        repo.list("", page_token="not-a-token")
    with pytest.raises(InvalidParameter):
        repo.list("", max_results=0)


def test_missing_files(repo: ArtifactRepository) -> None:
    repo.put_stream("d/f", [b"1"])
    for path in ("nope", "d/nope", "d", ""):
        with pytest.raises(NotFound):
            repo.open_stream(path)
    with pytest.raises(NotFound):
        repo.info("nope")
    assert repo.exists("d/f") and repo.exists("d") and not repo.exists("nope")


def test_delete_file_and_directory(repo: ArtifactRepository) -> None:
    for name in ("keep.txt", "d/a.txt", "d/e/b.txt"):
        repo.put_stream(name, [b"x"])
    repo.delete("d/a.txt")
    assert not repo.exists("d/a.txt") and repo.exists("d/e/b.txt")
    repo.delete("d")
    assert not repo.exists("d") and repo.exists("keep.txt")
    repo.delete("never-existed")  # idempotent, like MLflow's


def test_root_is_neither_written_nor_deleted(repo: ArtifactRepository) -> None:
    repo.put_stream("f", [b"1"])
    for method in (lambda: repo.put_stream("", [b"x"]), lambda: repo.delete("")):
        with pytest.raises(InvalidPath):
            method()
    assert repo.exists("f")


def test_file_and_directory_names_do_not_collide(repo: ArtifactRepository) -> None:
    repo.put_stream("a", [b"file"])
    repo.put_stream("d/x", [b"1"])
    with pytest.raises(InvalidPath):
        repo.put_stream("a/b", [b"under a file"])
    with pytest.raises(InvalidPath):
        repo.put_stream("d", [b"over a directory"])
    assert read(repo, "a") == b"file" and read(repo, "d/x") == b"1"


@pytest.mark.parametrize("path", ["../x", "%252e%252e%252fx", "a\\..\\..\\x", "/abs", "a;b", "a#b"])
def test_every_operation_checks_paths(repo: ArtifactRepository, path: str) -> None:
    calls: list[Callable[[], object]] = [
        lambda: repo.put_stream(path, [b"x"]),
        lambda: repo.open_stream(path),
        lambda: repo.info(path),
        lambda: repo.exists(path),
        lambda: repo.list(path),
        lambda: repo.delete(path),
    ]
    for call in calls:
        with pytest.raises(InvalidPath):
            call()


# -- atomic writes --------------------------------------------------------------------------------


def test_failed_write_leaves_nothing_under_the_name(repo: ArtifactRepository) -> None:
    with pytest.raises(Boom):
        repo.put_stream("out/model.bin", failing(after=50))
    assert not repo.exists("out/model.bin")
    assert repo.list("out").items == []


def test_failed_overwrite_keeps_the_previous_version(repo: ArtifactRepository) -> None:
    repo.put_stream("model.bin", [b"version 1"])
    with pytest.raises(Boom):
        repo.put_stream("model.bin", failing(after=10))
    assert read(repo, "model.bin") == b"version 1"


def test_write_in_flight_is_invisible(repo: ArtifactRepository) -> None:
    seen: list[list[FileInfo]] = []

    def chunks() -> Iterator[bytes]:
        yield b"part one"
        seen.append(repo.list("").items)
        assert not repo.exists("big.bin")
        yield b"part two"

    repo.put_stream("big.bin", chunks())
    assert seen == [[]]
    assert read(repo, "big.bin") == b"part onepart two"


# -- streaming ------------------------------------------------------------------------------------

MiB = 1024 * 1024


def test_large_files_stream_in_flat_memory(repo: ArtifactRepository, memory_budget: int) -> None:
    block = os.urandom(MiB)
    total = 64

    tracemalloc.start()
    try:
        repo.put_stream("large.bin", (block for _ in range(total)))
        _, write_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        size = 0
        with repo.open_stream("large.bin", chunk_size=MiB) as stream:
            assert stream.size == total * MiB
            for chunk in stream:
                assert len(chunk) <= MiB
                size += len(chunk)
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size == total * MiB
    assert write_peak < memory_budget and read_peak < memory_budget, (write_peak, read_peak)


def test_stream_reports_size_before_the_first_byte(repo: ArtifactRepository) -> None:
    repo.put_stream("f", [b"12345"])
    stream = repo.open_stream("f", chunk_size=2)
    assert stream.size == 5
    assert list(stream) == [b"12", b"34", b"5"]
    stream.close()
    stream.close()


# -- local only -----------------------------------------------------------------------------------


def test_local_temp_files_live_beside_the_target_and_vanish(tmp_path: Path) -> None:
    repo = LocalArtifactRepository(tmp_path)
    with pytest.raises(Boom):
        repo.put_stream("d/f", failing(after=3))
    assert os.listdir(tmp_path / "d") == []
    repo.put_stream("d/f", [b"ok"])
    assert os.listdir(tmp_path / "d") == ["f"]
    assert (tmp_path / "d" / "f").stat().st_mode & 0o777 == 0o644


def test_local_symlinks_out_of_the_root_are_not_followed(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    os.symlink(secret, root / "planted")
    os.symlink(tmp_path, root / "planted-dir")
    repo = LocalArtifactRepository(root)
    for call in (
        lambda: repo.open_stream("planted"),
        lambda: repo.put_stream("planted", [b"overwrite"]),
        lambda: repo.put_stream("planted-dir/secret.txt", [b"overwrite"]),
        lambda: repo.list("planted-dir"),
    ):
        with pytest.raises(InvalidPath):
            call()
    assert repo.list("").items == []  # links out of the root are not listed either
    repo.delete("planted")  # removes the link, never its target
    assert secret.read_text() == "top secret" and not (root / "planted").is_symlink()


def test_local_fifo_is_not_a_file(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    repo = LocalArtifactRepository(tmp_path)
    with pytest.raises(NotFound):
        repo.open_stream("pipe")
    assert repo.list("").items == []


@pytest.mark.parametrize("fsync", [True, False])
def test_local_fsync_flushes_the_file_and_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fsync: bool
) -> None:
    flushed: list[str] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        flushed.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    repo = LocalArtifactRepository(tmp_path / "root", fsync=fsync)
    repo.put_stream("d/f.bin", [b"durable"])
    folder = tmp_path / "root" / "d"
    if fsync:  # the temp file's content, then the folder holding the rename
        assert len(flushed) == 2 and flushed[1] == str(folder)
        assert Path(flushed[0]).parent == folder and ".shipyard-" in flushed[0]
    else:
        assert flushed == []
    assert (folder / "f.bin").read_bytes() == b"durable"
