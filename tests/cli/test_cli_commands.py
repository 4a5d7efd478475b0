"""The command line, driven through Typer's CliRunner against a local tracking folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from shipyard import Client
from shipyard.cli import app
from shipyard.entities import Metric, Param

runner = CliRunner()


@pytest.fixture
def folder(tmp_path: Path) -> str:
    return str(tmp_path / "data")


def _ok(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_experiments_commands(folder: str) -> None:
    assert "Created experiment" in _ok(
        "experiments", "create", "cli-exp", "-r", "owner", "-t", folder
    )
    out = _ok("experiments", "list", "-t", folder)
    assert "cli-exp" in out and "shipyard.required_tags=owner" in out
    exp_id = Client(folder).get_experiment_by_name("cli-exp").experiment_id  # type: ignore[union-attr]
    _ok("experiments", "delete", exp_id, "-t", folder)
    assert "cli-exp" not in _ok("experiments", "list", "-t", folder)
    assert "cli-exp" in _ok("experiments", "list", "--view", "DELETED_ONLY", "-t", folder)
    _ok("experiments", "restore", exp_id, "-t", folder)
    assert "cli-exp" in _ok("experiments", "list", "-t", folder)


def test_errors_are_one_line_and_exit_1(folder: str) -> None:
    _ok("experiments", "create", "twice", "-t", folder)
    result = runner.invoke(app, ["experiments", "create", "twice", "-t", folder])
    assert result.exit_code == 1
    assert "RESOURCE_ALREADY_EXISTS" in result.output and "Traceback" not in result.output


def _two_runs(folder: str) -> tuple[str, str]:
    client = Client(folder)
    ids = []
    for lr, acc in (("0.1", 0.8), ("0.2", 0.9)):
        run = client.create_run("0", run_name=f"lr-{lr}")
        client.log_batch(
            run.info.run_id, [Metric("acc", acc, 1, 0)], [Param("lr", lr), Param("model", "rf")]
        )
        ids.append(run.info.run_id)
    return ids[0], ids[1]


def test_runs_search_show_compare(folder: str) -> None:
    a, b = _two_runs(folder)
    out = _ok("runs", "search", "-f", "metrics.acc > 0.85", "-t", folder)
    assert b in out and a not in out
    out = _ok("runs", "search", "-o", "metrics.acc DESC", "-t", folder)
    assert out.index(b) < out.index(a)
    out = _ok("runs", "show", a, "-t", folder)
    assert "lr-0.1" in out and "0.8" in out
    out = _ok("runs", "compare", a, b, "-t", folder)
    assert "lr" in out and "model" not in out.split("metrics")[0]  # equal params hidden
    assert "0.9 (+0.1)" in out


def test_bad_filter_names_the_problem(folder: str) -> None:
    result = runner.invoke(app, ["runs", "search", "-f", "metrics.acc >> 1", "-t", folder])
    assert result.exit_code == 1 and "INVALID_PARAMETER_VALUE" in result.output


def test_delete_restore_and_gc(folder: str, tmp_path: Path) -> None:
    a, b = _two_runs(folder)
    client = Client(folder)
    art = Path(client.get_run(a).info.artifact_uri)
    art.mkdir(parents=True)
    (art / "model.bin").write_bytes(b"x" * 1234)
    _ok("runs", "delete", a, "-t", folder)
    _ok("runs", "restore", b, "-t", folder)  # restoring an active run is harmless
    db = f"sqlite:///{folder}/shipyard.db"
    out = _ok("gc", "--backend-store-uri", db, "--artifacts-destination", f"{folder}/artifacts")
    assert "removed 1 run(s)" in out and "freed 1234 bytes" in out
    assert not art.exists()
    result = runner.invoke(app, ["runs", "show", a, "-t", folder])
    assert result.exit_code == 1 and "RESOURCE_DOES_NOT_EXIST" in result.output
    assert client.get_run(b).info.lifecycle_stage == "active"


def test_gc_older_than_keeps_recent_deletions(folder: str) -> None:
    a, _ = _two_runs(folder)
    Client(folder).delete_run(a)
    db = f"sqlite:///{folder}/shipyard.db"
    out = _ok(
        "gc", "--backend-store-uri", db, "--artifacts-destination", folder, "--older-than", "1d"
    )
    assert "removed 0 run(s)" in out
    result = runner.invoke(app, ["gc", "--backend-store-uri", db, "--older-than", "soon"])
    assert result.exit_code == 1 and "Invalid duration" in result.output
