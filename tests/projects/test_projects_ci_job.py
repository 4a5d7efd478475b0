"""The CI job of docs/projects.md, step by step on the example run: reproduce, register the
model, gate it on the held-out rows the script logged, promote it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from shipyard.cli import app

POLICY = Path(__file__).resolve().parents[2] / "examples" / "project" / "gates.yaml"


@pytest.mark.slow
def test_train_reproduce_register_gate_promote(
    example_run: Any, env_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = CliRunner()
    uri, run_id = example_run.client.tracking_uri, example_run.run_id
    monkeypatch.chdir(tmp_path)

    downloaded = cli.invoke(app, ["artifacts", "download", "-r", run_id, "eval", "-t", uri])
    assert downloaded.exit_code == 0, downloaded.output
    assert (tmp_path / "eval" / "eval.csv").read_text().startswith("alcohol,")

    registered = cli.invoke(
        app, ["models", "register", f"runs:/{run_id}/model", "--name", "wine", "-t", uri]
    )
    assert registered.exit_code == 0, registered.output
    match = re.search(r"^Registered .* version (\d+)", registered.stdout, re.M)  # the doc's sed
    assert match is not None and match.group(1) == "1"

    gate = [
        "gate", "run", "models:/wine/1", "--policy", str(POLICY), "--data", "eval/eval.csv",
        "--promote", "-t", uri,
    ]  # fmt: skip
    gated = cli.invoke(app, gate)
    assert gated.exit_code == 0, gated.output
    assert "alias 'production' -> version 1" in gated.stdout
    assert example_run.client.get_model_version_by_alias("wine", "production").version == "1"
