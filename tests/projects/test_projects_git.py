"""What the patch holds: uncommitted changes and untracked files of the project folder, without
declared data, a local tracking folder or files too large to carry."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from shipyard.errors import InvalidParameter
from shipyard.projects import _git


def _repo(tmp_path: Path, commit: Callable[..., str]) -> Path:
    repo = tmp_path / "repo"
    (repo / "project").mkdir(parents=True)
    (repo / "project" / "train.py").write_text("print(1)\n")
    (repo / "lib.py").write_text("X = 1\n")
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    commit(repo, "first")
    return repo


def test_the_patch_holds_the_project_folders_work_only(
    tmp_path: Path, commit: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = _repo(tmp_path, commit)
    project = repo / "project"
    (repo / "lib.py").write_text("X = 2\n")  # a tracked change anywhere in the repository
    (repo / "elsewhere.txt").write_text("not the project's\n")
    (project / "new.py").write_text("print(2)\n")
    (project / "data").mkdir()
    (project / "data" / "big.csv").write_text("a\n1\n")
    (project / "shipyard-data").mkdir()
    (project / "shipyard-data" / "shipyard.db").write_bytes(b"sqlite")
    monkeypatch.setattr(_git, "MAX_UNTRACKED_BYTES", 100)
    (project / "weights.bin").write_bytes(b"0" * 101)

    source = _git.describe_source(
        project, [project / "data" / "big.csv", project / "shipyard-data"]
    )
    assert source is not None
    patch = source.patch.decode()
    assert "+X = 2" in patch and "+print(2)" in patch
    for absent in ("elsewhere", "big.csv", "shipyard.db", "weights.bin"):
        assert absent not in patch
    assert source.left_out == ("project/weights.bin",)
    assert source.subdir == "project" and source.dirty
    assert "project/train.py" in source.tracked

    clean = tmp_path / "clean"
    patch_file = tmp_path / "p.patch"
    patch_file.write_bytes(source.patch)
    _git.checkout(str(repo), source.commit, clean, patch_file)
    assert (clean / "lib.py").read_text() == "X = 2\n"
    assert (clean / "project" / "new.py").read_text() == "print(2)\n"


def test_outside_git_there_is_no_source(tmp_path: Path) -> None:
    assert _git.describe_source(tmp_path, []) is None


def test_git_urls() -> None:
    assert _git.is_git_url("https://github.com/org/repo.git")
    assert _git.is_git_url("git@github.com:org/repo.git")
    assert not _git.is_git_url("examples/project")
    assert _git.split_git_url("git+https://h/r.git#sub/dir/") == ("https://h/r.git", "sub/dir")


def test_an_unknown_commit_is_named(tmp_path: Path, commit: Callable[..., str]) -> None:
    repo = _repo(tmp_path, commit)
    with pytest.raises(InvalidParameter, match=r"Commit 0{40} is not in"):
        _git.checkout(str(repo), "0" * 40, tmp_path / "clean")
