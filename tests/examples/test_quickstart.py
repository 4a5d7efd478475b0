"""The README's first command ends in a server holding a real example: check what it holds."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sklearn.datasets import load_wine

import shipyard
from shipyard import Client
from shipyard.examples.wine import EXPERIMENT, GRID, REGISTERED_MODEL


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """Run `shipyard quickstart` once; leave the data, return a second server's URL over it."""
    data = tmp_path_factory.mktemp("qs") / "shipyard-data"
    port = _free_port()
    cmd = [sys.executable, "-m", "shipyard.cli", "quickstart", "--data", str(data),
           "--port", str(port), "--no-keep-running"]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert f"Logged {len(GRID)} runs" in result.stdout
    return str(data), data


def test_example_runs_are_complete(quickstart: tuple[str, Path]) -> None:
    folder, _ = quickstart
    client = Client(folder)
    exp = client.get_experiment_by_name(EXPERIMENT)
    assert exp is not None and exp.artifact_location.startswith("mlflow-artifacts:/")
    runs = client.search_runs([exp.experiment_id], order_by=["metrics.test_accuracy DESC"]).items
    assert len(runs) == len(GRID)
    for run in runs:
        assert run.info.status == "FINISHED"
        assert {"loss", "alpha", "epochs", "model", "seed"} <= set(run.data.params)
        assert {"owner", "data_version", "mlflow.source.name"} <= set(run.data.tags)
        latest = {m.key: m.value for m in run.data.metrics}
        assert 0.5 < latest["test_accuracy"] <= 1.0
        history = client.get_metric_history(run.info.run_id, "val_accuracy")
        assert [p.step for p in history] == list(range(30))
        assert run.inputs[0].dataset.name == "wine"


def test_example_artifacts_are_on_disk(quickstart: tuple[str, Path]) -> None:
    folder, data = quickstart
    client = Client(folder)
    exp = client.get_experiment_by_name(EXPERIMENT)
    assert exp is not None
    run = client.search_runs([exp.experiment_id]).items[0]
    rel = run.info.artifact_uri.removeprefix("mlflow-artifacts:/")
    files = {p.name for p in (data / "artifacts" / rel).iterdir()}
    assert files == {
        "confusion_matrix.csv",
        "classification_report.json",
        "learning_curve.csv",
        "model",
    }
    assert (data / "artifacts" / rel / "model" / "MLmodel").is_file()


def test_example_models_are_registered_with_aliases(quickstart: tuple[str, Path]) -> None:
    folder, _ = quickstart
    client = Client(folder)
    model = client.get_registered_model(REGISTERED_MODEL)
    versions = client.search_model_versions(f"name = '{REGISTERED_MODEL}'").items
    assert len(versions) == len(GRID) and set(model.aliases) == {"production", "staging"}
    exp = client.get_experiment_by_name(EXPERIMENT)
    assert exp is not None
    best = client.search_runs([exp.experiment_id], order_by=["metrics.test_f1_macro DESC"]).items
    production = client.get_model_version_by_alias(REGISTERED_MODEL, "production")
    assert production.run_id == best[0].info.run_id
    moves = [e for e in client.audit_events(REGISTERED_MODEL) if e.action == "alias.set"]
    assert [m.alias for m in moves] == ["production", "staging"]
    assert all(m.reason and "test F1" in m.reason for m in moves)
    assert client.verify_audit().ok
    features = load_wine(as_frame=True).data.head(5)
    loaded = shipyard.pyfunc.load_model(
        f"models:/{REGISTERED_MODEL}@production", tracking_uri=folder
    )
    assert loaded.predict(features).shape == (5,)


def test_second_quickstart_logs_nothing_twice(quickstart: tuple[str, Path]) -> None:
    folder, data = quickstart
    port = _free_port()
    cmd = [sys.executable, "-m", "shipyard.cli", "quickstart", "--data", str(data),
           "--port", str(port), "--no-keep-running"]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    exp = Client(folder).get_experiment_by_name(EXPERIMENT)
    assert exp is not None
    assert len(Client(folder).search_runs([exp.experiment_id]).items) == len(GRID)
