"""Environments: built once per exact requirement set, reused from the cache, locked with
``pip freeze``; a failed build names the requirement."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from shipyard.errors import MissingDependency
from shipyard.projects import EnvBuildFailed, diff_locks
from shipyard.projects._env import build_virtualenv, requirement_lines
from shipyard.projects._spec import PythonEnv


def test_a_virtualenv_is_built_once_and_reused(tmp_path: Path, offline_pip: Path) -> None:
    messages: list[str] = []
    built = build_virtualenv(["tinydep==1.0"], tmp_path, None, True, messages.append)
    assert not built.reused and "building environment" in messages[0]
    assert "tinydep==1.0" in built.installed and "tinydep==1.0" in built.lock.splitlines()
    version = subprocess.run(
        [built.python, "-c", "import tinydep, sklearn; print(tinydep.__version__)"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert version == "1.0"  # its own package, and the running Python's (sklearn) too

    start = time.perf_counter()
    again = build_virtualenv(["tinydep==1.0"], tmp_path, None, True, messages.append)
    assert again.reused and again.root == built.root and again.lock == built.lock
    assert time.perf_counter() - start < 1.0  # the second run starts in seconds (here, ms)
    other = build_virtualenv([], tmp_path, None, True, messages.append)
    assert other.root != built.root  # a different requirement set is a different environment


def test_a_failed_build_names_the_requirement_and_leaves_nothing(
    tmp_path: Path, offline_pip: Path
) -> None:
    with pytest.raises(EnvBuildFailed, match=r"tinydep==9\.9"):
        build_virtualenv(["tinydep==9.9"], tmp_path, None, True, print)
    assert [p for p in tmp_path.iterdir() if p.is_dir()] == []


def test_requirement_lines_read_files_and_locks(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("# pinned\nnumpy>=1.26  # arrays\n-r more.txt\n")
    (tmp_path / "more.txt").write_text("pandas\n")
    (tmp_path / "requirements.lock").write_text("numpy==2.0.0\n")
    env = PythonEnv(build_dependencies=["pip"], dependencies=["-r more.txt", "x==1"])
    assert requirement_lines(env, tmp_path) == ["pip", "pandas", "x==1"]
    env = PythonEnv(requirements="requirements.txt")
    assert requirement_lines(env, tmp_path) == ["numpy>=1.26", "pandas"]
    assert requirement_lines(PythonEnv(lock="requirements.lock"), tmp_path) == ["numpy==2.0.0"]


def test_lock_differences_are_named() -> None:
    recorded = "numpy==2.0.0\nScikit_Learn==1.5.0\n-e /src/proj\nold==1\n"
    now = "numpy==2.0.0\nscikit-learn==1.6.0\n-e /src/proj\nnew @ file:///w/new.whl\n"
    assert [str(c) for c in diff_locks(recorded, now)] == [
        "new (absent) -> file:///w/new.whl",
        "old 1 -> (absent)",
        "scikit-learn 1.5.0 -> 1.6.0",
    ]
    assert diff_locks(recorded, recorded) == []


def test_a_python_version_that_is_not_there_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_which = shutil.which
    monkeypatch.setattr(
        shutil, "which", lambda name: None if "uv" in name or "3.99" in name else real_which(name)
    )
    with pytest.raises(
        MissingDependency, match=r"asks for Python 3\.99, .* no python3\.99 is on PATH"
    ):
        build_virtualenv([], tmp_path, "3.99", False, print)
