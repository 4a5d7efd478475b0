"""``shipyard reproduce``: the example reproduces, and reproduction fails naming the cause when
the data changed, when the training code is not deterministic, and when a dependency's version
differs. The result is recorded on both runs."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from shipyard import Client
from shipyard.cli import app
from shipyard.client._artifacts import download_run_artifacts
from shipyard.errors import InvalidParameter
from shipyard.projects import RunOptions, reproduce, run_project
from shipyard.projects._env import build_virtualenv

FAST = {"n_estimators": "10"}


def _run(store: Client, repo: Path, cache: Path) -> str:
    outcome = run_project(
        store, RunOptions(str(repo), params=FAST, cache_dir=cache), io.StringIO(), print
    )
    assert outcome.status == "FINISHED"
    return outcome.run_id


@pytest.mark.slow
def test_the_example_reproduces_and_both_runs_say_so(
    example_run: Any, env_cache: Path, tmp_path: Path, offline_pip: Path
) -> None:
    store, run_id = example_run.client, example_run.run_id
    uri = store.tracking_uri
    result = CliRunner().invoke(
        app, ["reproduce", run_id, "-t", uri, "--env-cache-dir", str(env_cache)]
    )
    assert result.exit_code == 0, result.output
    assert f"reproduced: run {run_id} gives the same results" in result.stdout
    for line in ("data/wine.csv", "accuracy", "log_loss", "model"):
        assert line in result.stdout
    new_id = result.stdout.strip().splitlines()[-2].removeprefix("run id: ")
    original, again = store.get_run(run_id), store.get_run(new_id)
    assert original.data.tags["shipyard.reproduce.last_result"] == "passed"
    assert original.data.tags["shipyard.reproduce.last_run_id"] == new_id
    assert again.data.tags["shipyard.reproduce.of"] == run_id
    assert again.data.tags["shipyard.reproduce.result"] == "passed"
    assert again.data.params == original.data.params and again.info.status == "FINISHED"
    # the re-run ran the recorded code (the uncommitted edit came back through the patch)
    assert (
        again.data.tags["mlflow.source.git.commit"]
        == original.data.tags["mlflow.source.git.commit"]
    )
    report = download_run_artifacts(store, new_id, "shipyard/reproduce.json", tmp_path)
    rows = json.loads(report.read_text())["rows"]
    assert {r["kind"] for r in rows} == {"data", "dependency", "metric", "model"}
    assert all(r["ok"] for r in rows)


@pytest.mark.slow
def test_changed_data_is_refused_naming_the_file(
    example_repo: Callable[..., Path], store: Client, env_cache: Path
) -> None:
    repo = example_repo()
    run_id = _run(store, repo, env_cache)
    data = repo / "data" / "wine.csv"
    data.write_text(data.read_text().replace("14.23", "14.24", 1))
    report = reproduce(store, run_id, cache_dir=env_cache, out=io.StringIO(), log=print)
    assert not report.passed and report.outcome is None  # refused: nothing ran
    assert len(report.causes) == 1 and report.causes[0].startswith(
        "data file data/wine.csv changed"
    )
    assert store.get_run(report.run_id).info.status == "FAILED"
    assert store.get_run(run_id).data.tags["shipyard.reproduce.last_result"] == "failed"
    reason = store.get_run(report.run_id).data.tags["shipyard.reproduce.reason"]
    assert "data/wine.csv changed" in reason


@pytest.mark.slow
def test_non_deterministic_training_code_fails_naming_the_model(
    example_repo: Callable[..., Path],
    store: Client,
    env_cache: Path,
    commit: Callable[..., str],
) -> None:
    repo = example_repo()
    train = repo / "train.py"
    train.write_text(
        train.read_text().replace(
            "max_depth=args.max_depth, random_state=args.seed", "max_depth=args.max_depth"
        )
    )
    commit(repo, "forget the seed")
    run_id = _run(store, repo, env_cache)
    report = reproduce(store, run_id, cache_dir=env_cache, out=io.StringIO(), log=print)
    assert not report.passed
    assert any(c.startswith("model model differs (content digest") for c in report.causes)
    failed = {(r.kind, r.name) for r in report.rows if not r.ok}
    assert ("model", "model") in failed
    assert store.get_run(report.run_id).info.status == "FINISHED"  # it ran; it did not reproduce
    assert store.get_run(run_id).data.tags["shipyard.reproduce.last_result"] == "failed"


@pytest.mark.slow
def test_a_different_dependency_version_fails_naming_it(
    example_repo: Callable[..., Path], tmp_path: Path, publish: Callable[[str, str], Path]
) -> None:
    """The run used the Python it was started from (``--env-manager local``); by the time of the
    reproduction, a package in that environment was upgraded."""
    publish("tinydep", "2.0")
    env = build_virtualenv(["tinydep==1.0"], tmp_path / "envs", None, True, print)
    repo = example_repo()
    uri = str(tmp_path / "tracking")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SHIPYARD_", "MLFLOW_"))}

    def shipyard(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [env.python, "-m", "shipyard.cli", *args, "-t", uri]
        return subprocess.run(cmd, capture_output=True, text=True, env=clean, check=False)

    ran = shipyard("run", str(repo), "--env-manager", "local", "-P", "n_estimators=5")
    assert ran.returncode == 0, ran.stderr
    run_id = ran.stdout.strip().splitlines()[-2].removeprefix("run id: ")
    upgrade = [sys.executable, "-m", "pip", "--python", env.python, "install", "-q", "tinydep==2.0"]
    subprocess.run(upgrade, check=True, capture_output=True)

    again = shipyard("reproduce", run_id)
    assert again.returncode == 1, again.stdout + again.stderr
    assert "dependency version differs: tinydep 1.0 -> 2.0" in again.stdout
    assert Client(uri).get_run(run_id).data.tags["shipyard.reproduce.last_result"] == "failed"


def _tiny(folder: Path, command: str, env: str = "") -> Path:
    folder.mkdir(parents=True)
    (folder / "shipyard.yaml").write_text(
        f"name: tiny\n{env}entry_points:\n  main:\n    command: {command}\n"
    )
    return folder


def test_a_project_run_from_a_git_url_reproduces_from_that_url(
    tmp_path: Path, store: Client, commit: Callable[..., str]
) -> None:
    repo = tmp_path / "repo"
    _tiny(repo / "sub", "python -c 'import shipyard; shipyard.log_metric(\"m\", 1.5)'")
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    commit(repo, "tiny")
    outcome = run_project(store, RunOptions(f"file://{repo}#sub"), io.StringIO(), print)
    report = reproduce(store, outcome.run_id, out=io.StringIO(), log=print)
    assert report.passed, report.causes
    assert [(r.kind, r.name, r.reproduced) for r in report.rows if r.kind == "metric"] == [
        ("metric", "m", "1.5")
    ]
    recorded = download_run_artifacts(store, report.run_id, "shipyard/project.json", tmp_path)
    assert json.loads(recorded.read_text())["source"]["repo"] == f"file://{repo}"


def test_a_recorded_version_that_cannot_be_installed_is_named(
    tmp_path: Path,
    store: Client,
    commit: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
    publish: Callable[[str, str], Path],
) -> None:
    """Reproducing on a machine without the cached environment, after tinydep 1.0 left the
    index (yanked): the rebuild from the lock fails and says which pin."""
    index = tmp_path / "index"
    index.mkdir()
    wheel = publish("tinydep", "1.0").rename(index / "tinydep-1.0-py3-none-any.whl")
    monkeypatch.setenv("PIP_FIND_LINKS", str(index))
    env = "python_env:\n  system_site_packages: true\n  dependencies: [tinydep==1.0]\n"
    repo = _tiny(tmp_path / "repo", "python -c 'import tinydep; print(tinydep.__version__)'", env)
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    commit(repo, "tiny")
    out = io.StringIO()
    outcome = run_project(store, RunOptions(str(repo), cache_dir=tmp_path / "a"), out, print)
    assert out.getvalue() == "1.0\n"

    wheel.unlink()
    report = reproduce(store, outcome.run_id, cache_dir=tmp_path / "b", out=out, log=print)
    assert not report.passed and report.outcome is None
    assert report.causes[0].startswith("the recorded environment could not be rebuilt")
    assert "tinydep==1.0" in report.causes[0]


def test_a_run_outside_git_cannot_be_reproduced(tmp_path: Path, store: Client) -> None:
    outcome = run_project(store, RunOptions(str(_tiny(tmp_path / "p", "echo hi"))), io.StringIO())
    with pytest.raises(InvalidParameter, match="not in a git repository"):
        reproduce(store, outcome.run_id, out=io.StringIO(), log=print)
    run = store.search_runs(["0"], order_by=["attributes.start_time DESC"]).items
    assert len(run) == 1  # no reproduction run was started


FAKE_DOCKER = """#!/bin/bash
# Stands in for a Docker engine: answers `info` and `image inspect`, and for `run` prints its
# arguments, then runs the command (the last argument) here.
case "$1" in
  info) echo 27.0 ;;
  image) echo "sha256:$FAKE_IMAGE_ID" ;;
  run) echo "docker $*"; exec sh -c "${@: -1}" ;;
esac
"""


def test_docker_env_runs_when_an_engine_answers_and_the_image_is_compared(
    tmp_path: Path, store: Client, commit: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(FAKE_DOCKER)
    (bin_dir / "docker").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_IMAGE_ID", "aaa")
    repo = _tiny(
        tmp_path / "repo", "echo in the image", "docker_env: {image: 'python:3.11-slim'}\n"
    )
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    commit(repo, "docker project")

    out = io.StringIO()
    outcome = run_project(store, RunOptions(str(repo)), out, print)
    assert outcome.status == "FINISHED"
    first, second = out.getvalue().splitlines()
    assert first.startswith(f"docker run --rm --network host -v {repo}:/shipyard/project")
    assert f"-e SHIPYARD_RUN_ID={outcome.run_id}" in first
    assert second == "in the image"
    assert store.get_run(outcome.run_id).data.tags["shipyard.docker.image_id"] == "sha256:aaa"

    monkeypatch.setenv("FAKE_IMAGE_ID", "bbb")  # the tag now names other content
    report = reproduce(store, outcome.run_id, out=io.StringIO(), log=print)
    assert report.causes == ["the docker image differs (id sha256:aaa vs sha256:bbb)"]
