"""``shipyard models serve`` as a real process, and ``build-docker``'s build context."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import httpx
import pandas as pd
import pytest
from _serving_models import free_port, start
from typer.testing import CliRunner

from shipyard.cli import app
from shipyard.inference_log import read_inference_log


@pytest.mark.slow
def test_serve_with_two_workers_answers_and_flushes_the_log_on_sigterm(
    iris_model: Path, iris_rows: pd.DataFrame, tmp_path: Path
) -> None:
    port = free_port()
    cmd = [sys.executable, "-m", "shipyard.cli", "models", "serve", "-m", str(iris_model),
           "--port", str(port), "--workers", "2", "--name", "iris",
           "--inference-log", str(tmp_path / "log")]  # fmt: skip
    proc = start(cmd, port)
    try:
        body = {"dataframe_records": iris_rows.head(2).to_dict("records")}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            answers = [client.post("/invocations", json=body) for _ in range(20)]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert {a.status_code for a in answers} == {200}
    log = read_inference_log(tmp_path / "log", model="iris")
    assert len(log) == 40  # every row of every request, though the log flushes every 2 s
    assert set(log["request_id"]) == {a.headers["x-request-id"] for a in answers}


def test_serve_refuses_a_missing_model(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["models", "serve", "-m", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert "nope" in result.output


def test_build_docker_writes_a_context_that_serves_the_model(
    iris_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "ctx"
    result = CliRunner().invoke(
        app, ["models", "build-docker", "-m", str(iris_model), "-n", "iris:1", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    dockerfile = (out / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in dockerfile
    assert "RUN pip install -r /opt/shipyard/model/requirements.txt" in dockerfile
    assert "COPY model /opt/shipyard/model" in dockerfile
    assert '"models", "serve", "-m", "/opt/shipyard/model"' in dockerfile
    assert "scikit-learn==" in (out / "model" / "requirements.txt").read_text()
    assert (out / "model" / "MLmodel").exists()
    assert "docker build -t iris:1" in (out / "README.txt").read_text()


def test_predict_command_scores_a_file(
    iris_model: Path, iris_rows: pd.DataFrame, tmp_path: Path
) -> None:
    iris_rows.to_csv(tmp_path / "in.csv", index=False)
    args = ["models", "predict", "-m", str(iris_model), "-i", str(tmp_path / "in.csv"),
            "-o", str(tmp_path / "out.parquet"), "--workers", "1"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Scored 150 rows" in result.output
    assert len(pd.read_parquet(tmp_path / "out.parquet")) == 150
    missing = CliRunner().invoke(app, ["models", "predict", "-m", str(iris_model)])
    assert missing.exit_code == 1 and "--input" in missing.output
