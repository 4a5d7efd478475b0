"""``conda_env`` projects: built with the conda-compatible tool on PATH, cached by the file's
content, recorded on the run; a clear error when no tool is installed. A stand-in
``micromamba`` (a shell script that makes a virtualenv) takes the place of the real one, which
these machines do not have: what is tested is Shipyard's side of the exchange."""

from __future__ import annotations

import io
import os
import stat
import sys
from pathlib import Path

import pytest

from shipyard import Client
from shipyard.errors import MissingDependency
from shipyard.projects import RunOptions, run_project

FAKE = """#!/bin/sh
# micromamba create --yes -p PREFIX -f FILE: record the call, make a virtualenv at PREFIX
echo "$@" >> "{calls}"
if [ "$1" = "create" ]; then
  prefix="$4"
  exec "{python}" -m venv --system-site-packages "$prefix"
fi
exit 2
"""


def _project(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "conda.yaml").write_text("name: tiny\ndependencies: [python=3.11, pip]\n")
    (folder / "shipyard.yaml").write_text(
        "name: tiny\nconda_env: conda.yaml\nentry_points:\n  main:\n"
        "    command: python -c 'import sys; print(sys.prefix)'\n"
    )
    return folder


@pytest.fixture
def fake_micromamba(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls.txt"
    bin_dir.mkdir()
    tool = bin_dir / "micromamba"
    tool.write_text(FAKE.format(calls=calls, python=sys.executable))
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return calls


def test_conda_env_is_built_once_and_runs_the_command(
    tmp_path: Path, store: Client, fake_micromamba: Path
) -> None:
    project = _project(tmp_path / "p")
    cache = tmp_path / "cache"
    outs = []
    for _ in range(2):
        out = io.StringIO()
        outcome = run_project(store, RunOptions(str(project), cache_dir=cache), out, print)
        assert outcome.status == "FINISHED", out.getvalue()
        outs.append(out.getvalue().strip())
    prefixes = [p for p in cache.iterdir() if p.name.startswith("conda-") and p.is_dir()]
    assert len(prefixes) == 1 and outs == [str(prefixes[0])] * 2  # the command ran inside it
    calls = fake_micromamba.read_text().splitlines()
    assert len(calls) == 1 and calls[0].startswith("create --yes -p ")  # the second run reused it
    assert calls[0].endswith(f"-f {project / 'conda.yaml'}")
    (project / "conda.yaml").write_text("name: tiny\ndependencies: [python=3.11, pip, numpy]\n")
    run_project(store, RunOptions(str(project), cache_dir=cache), io.StringIO(), print)
    assert len(fake_micromamba.read_text().splitlines()) == 2  # a changed file is a new env


def test_conda_env_without_a_conda_tool_says_what_to_install(
    tmp_path: Path, store: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    project = _project(tmp_path / "p")
    with pytest.raises(MissingDependency, match="micromamba, mamba or conda"):
        run_project(store, RunOptions(str(project), cache_dir=tmp_path / "c"), io.StringIO(), print)
