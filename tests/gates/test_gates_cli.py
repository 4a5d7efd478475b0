"""``shipyard gate run|compare``: the exit code is the decision (0 pass, 1 fail, 2 usage)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from _gate_models import Bundle
from typer.testing import CliRunner

from shipyard.cli._app import app

runner = CliRunner()

POLICY = """\
promote_to: staging
label: target
checks:
  - {type: metric, metric: f1, min: 0.95}
  - {type: robustness, cases: [missing_values]}
"""


@pytest.fixture
def files(eval_data: pd.DataFrame, tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "gates.yaml").write_text(POLICY)
    eval_data.to_parquet(tmp_path / "eval.parquet")
    return tmp_path / "gates.yaml", tmp_path / "eval.parquet"


def _gate(*args: object) -> tuple[int, str]:
    result = runner.invoke(app, ["gate", *map(str, args)])
    return result.exit_code, result.output


def test_a_passing_gate_exits_0_and_writes_the_report(
    bundle: Bundle, files: tuple[Path, Path], tmp_path: Path
) -> None:
    policy, data = files
    code, out = _gate(
        "run", bundle.models["boosting"], "-p", policy, "-d", data, "-o", tmp_path / "r"
    )
    assert code == 0, out
    assert "PASSED" in out
    assert json.loads((tmp_path / "r" / "report.json").read_text())["passed"] is True


def test_a_failing_gate_exits_1_and_says_why(bundle: Bundle, files: tuple[Path, Path]) -> None:
    policy, data = files
    code, out = _gate("run", bundle.models["logistic"], "--policy", policy, "--data", data)
    assert code == 1, out
    assert "FAILED: 1 of 2 checks failed" in out
    assert "robustness" in out and "crashed with ValueError" in out


def test_usage_errors_exit_2(bundle: Bundle, files: tuple[Path, Path], tmp_path: Path) -> None:
    policy, data = files
    bad = tmp_path / "bad.yaml"
    bad.write_text("promote_to: staging\nchecks:\n  - type: size\n    max_bytes: huge\n")
    code, out = _gate("run", bundle.models["logistic"], "-p", bad, "-d", data)
    assert code == 2 and "line 4: checks[0].max_bytes" in " ".join(out.split())
    code, out = _gate("run", bundle.models["logistic"], "-p", policy, "-d", tmp_path / "nope.csv")
    assert code == 2 and "No evaluation data" in out
    code, out = _gate("run", bundle.models["logistic"], "-p", policy, "-d", data, "--promote")
    assert code == 2 and "not a registered version" in " ".join(out.split())
    code, _ = _gate("run", bundle.models["logistic"])  # --policy is required
    assert code == 2


def test_compare_ranks_candidates(bundle: Bundle, files: tuple[Path, Path], tmp_path: Path) -> None:
    policy, data = files
    code, out = _gate(
        "compare", bundle.models["logistic"], bundle.models["boosting"], "-p", policy, "-d", data,
        "-o", tmp_path / "card",
    )  # fmt: skip
    assert code == 0, out
    card = json.loads((tmp_path / "card" / "scorecard.json").read_text())
    assert card["ranking"] == [str(bundle.models["boosting"]), str(bundle.models["logistic"])]
    assert (tmp_path / "card" / "scorecard.html").read_text().startswith("<!doctype html>")
