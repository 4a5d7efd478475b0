"""``shipyard run``: the example project runs in its cached virtualenv and its run records the
source, patch, project file, parameters, lock, data digests, output, metrics and model."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from shipyard import Client
from shipyard.cli import app
from shipyard.errors import InvalidParameter
from shipyard.projects import RunOptions, _runner, run_project


def _artifact_text(client: Client, run_id: str, path: str, tmp: Path) -> str:
    return client_download(client, run_id, path, tmp).read_text()


def client_download(client: Client, run_id: str, path: str, tmp: Path) -> Path:
    from shipyard.client._artifacts import download_run_artifacts

    return download_run_artifacts(client, run_id, path, tmp / run_id[:8])


@pytest.mark.slow
def test_the_example_run_records_everything(example_run: Any, tmp_path: Path) -> None:
    repo, store, run_id = example_run.repo, example_run.client, example_run.run_id
    out = example_run.output
    assert "accuracy" in out  # output streamed to the terminal ...
    run = store.get_run(run_id)
    assert run.info.status == "FINISHED"
    saved = _artifact_text(store, run_id, "shipyard/output.log", tmp_path)
    assert saved == out  # ... and saved on the run
    params = run.data.params
    assert params == {
        "data": "data/wine.csv", "max_depth": "5", "n_estimators": "10",
        "seed": "7", "test_size": "0.25",
    }  # fmt: skip
    tags = run.data.tags
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True)
    assert tags["mlflow.source.git.commit"] == head.stdout.strip()
    assert tags["shipyard.source.git.dirty"] == "true"
    assert tags["mlflow.project.entryPoint"] == "main"
    assert tags["mlflow.project.env"] == "virtualenv"
    assert tags["shipyard.exit_code"] == "0"
    assert {m.key for m in run.data.metrics} == {"accuracy", "f1_macro", "log_loss"}

    patch = _artifact_text(store, run_id, "shipyard/git.patch", tmp_path)
    assert "+# an uncommitted edit" in patch and "+an untracked file" in patch
    assert "wine.csv" not in patch  # data is checked by digest, not copied into the patch
    project_file = _artifact_text(store, run_id, "shipyard/shipyard.yaml", tmp_path)
    assert project_file == (repo / "shipyard.yaml").read_text()
    lock = _artifact_text(store, run_id, "shipyard/environment/lock.txt", tmp_path)
    import sklearn

    assert f"scikit-learn=={sklearn.__version__}" in lock.splitlines()
    recorded = json.loads(_artifact_text(store, run_id, "shipyard/project.json", tmp_path))
    wine = (repo / "data" / "wine.csv").read_bytes()
    assert recorded["data"] == [{
        "path": "data/wine.csv", "sha256": hashlib.sha256(wine).hexdigest(), "size": len(wine),
        "location": str((repo / "data" / "wine.csv").resolve()), "tracked": False,
    }]  # fmt: skip
    assert recorded["source"]["commit"] == head.stdout.strip()
    assert recorded["environment"]["spec"]["requirements"] == [
        "scikit-learn>=1.4", "pandas>=2.1", "shipyard-ml",
    ]  # fmt: skip
    assert [d.dataset.name for d in run.inputs] == ["data/wine.csv"]
    model = client_download(store, run_id, "model", tmp_path)
    assert (model / "MLmodel").is_file() and (model / "model.skops").is_file()


def _tiny_project(folder: Path, command: str, extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "shipyard.yaml").write_text(
        f"name: tiny\n{extra}entry_points:\n  main:\n    parameters:\n"
        f"      code: {{type: int, default: 0}}\n    command: {command}\n"
    )
    return folder


def test_status_follows_the_exit_code(tmp_path: Path, store: Client) -> None:
    project = _tiny_project(
        tmp_path / "p", "python -c 'import sys; print(\"bye\"); sys.exit({code})'"
    )
    outcome = run_project(
        store, RunOptions(str(project), params={"code": "3"}), io.StringIO(), print
    )
    assert (outcome.status, outcome.exit_code) == ("FAILED", 3)
    run = store.get_run(outcome.run_id)
    assert run.info.status == "FAILED" and run.data.tags["shipyard.exit_code"] == "3"
    assert run.data.tags["mlflow.project.env"] == "local"  # no environment declared


def test_bad_parameters_stop_before_anything_runs(tmp_path: Path, store: Client) -> None:
    project = _tiny_project(tmp_path / "p", "touch ran")
    with pytest.raises(
        InvalidParameter, match=r"unknown 'cod' \(declared: code\); 'code' must be an int, got 'x'"
    ):
        run_project(store, RunOptions(str(project), params={"code": "x", "cod": "1"}))
    assert not (project / "ran").exists()
    assert store.search_runs(["0"]).items == []  # no run was created


def test_cli_prints_the_run_id_last_and_returns_the_exit_code(tmp_path: Path) -> None:
    project = _tiny_project(tmp_path / "p", "python -c 'import sys; sys.exit({code})'")
    uri = str(tmp_path / "tracking")
    result = CliRunner().invoke(app, ["run", str(project), "-P", "code=4", "-t", uri])
    assert result.exit_code == 4, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[-2].startswith("run id: ") and lines[-1].startswith("link: shipyard runs show")
    run_id = lines[-2].removeprefix("run id: ")
    assert Client(uri).get_run(run_id).info.status == "FAILED"


def test_mlflow_scripts_get_the_run_through_mlflow_variables(tmp_path: Path, store: Client) -> None:
    project = tmp_path / "mlflow-project"
    project.mkdir()
    (project / "MLproject").write_text(
        "name: legacy\nentry_points:\n  main:\n    parameters:\n      alpha: float\n"
        "    command: python -c \"import os; print(os.environ['MLFLOW_RUN_ID'], {alpha})\"\n"
    )
    out = io.StringIO()
    outcome = run_project(store, RunOptions(str(project), params={"alpha": "0.5"}), out, print)
    assert out.getvalue().split() == [outcome.run_id, "0.5"]
    assert store.get_run(outcome.run_id).data.params == {"alpha": "0.5"}


def test_a_project_from_a_git_url(
    tmp_path: Path, store: Client, commit: Callable[..., str]
) -> None:
    repo = tmp_path / "repo"
    _tiny_project(repo / "sub", "python -c 'print(\"from git\")'")
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    sha = commit(repo, "tiny")
    out = io.StringIO()
    outcome = run_project(store, RunOptions(f"file://{repo}#sub"), out, print)
    assert out.getvalue() == "from git\n" and outcome.status == "FINISHED"
    tags = store.get_run(outcome.run_id).data.tags
    assert tags["mlflow.source.git.commit"] == sha
    assert tags["mlflow.source.git.repoURL"] == f"file://{repo}"


def test_docker_env_writes_the_command_and_says_when_docker_is_missing(
    tmp_path: Path, store: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_runner, "docker_available", lambda: (False, "no engine answered"))
    extra = "docker_env:\n  image: python:3.11-slim\n  environment: [[A, '1']]\n"
    project = _tiny_project(tmp_path / "p", "python train.py", extra)
    said: list[str] = []
    outcome = run_project(store, RunOptions(str(project)), io.StringIO(), said.append)
    assert outcome.status == "FAILED" and outcome.exit_code == 1
    assert any("docker is not available (no engine answered)" in s for s in said)
    saved = _artifact_text(store, outcome.run_id, "shipyard/docker_command.txt", tmp_path)
    assert saved.startswith("docker run --rm --network host -v ")
    assert f"-e SHIPYARD_RUN_ID={outcome.run_id}" in saved and "-e A=1" in saved
    assert saved.rstrip().endswith("python:3.11-slim sh -c 'python train.py'")
    assert store.get_run(outcome.run_id).data.tags["shipyard.docker"] == "unavailable"


@pytest.mark.slow
def test_ctrl_c_ends_the_run_killed(tmp_path: Path) -> None:
    command = (
        "python -c 'import shipyard, time; shipyard.start_run(); "
        'print("started", flush=True); time.sleep(60)\''
    )
    project = _tiny_project(tmp_path / "p", command)
    uri = str(tmp_path / "tracking")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHIPYARD_", "MLFLOW_"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "shipyard.cli", "run", str(project), "-t", uri],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert proc.stdout is not None
    for line in proc.stdout:  # wait until the command runs (and has resumed the run)
        if line.strip() == "started":
            break
    else:
        raise AssertionError(f"the command ended early: {proc.communicate()}")
    proc.send_signal(signal.SIGINT)
    rest, errors = proc.communicate(timeout=60)
    assert proc.returncode == 130, rest
    assert "KILLED (exit code 130)" in rest, (rest, errors)
    run_id = next(ln for ln in rest.splitlines() if ln.startswith("run id: ")).split()[-1]
    assert Client(uri).get_run(run_id).info.status == "KILLED"


def test_a_project_started_by_another_projects_command_is_its_child(tmp_path: Path) -> None:
    from shipyard.settings import Settings

    uri = str(tmp_path / "tracking")
    parent = Client(uri).create_run("0").info.run_id
    inside = Client(uri, Settings(run_id=parent))  # as in a command run with SHIPYARD_RUN_ID
    project = _tiny_project(tmp_path / "p", "echo step")
    outcome = run_project(inside, RunOptions(str(project)), io.StringIO(), print)
    assert inside.get_run(outcome.run_id).data.tags["mlflow.parentRunId"] == parent
