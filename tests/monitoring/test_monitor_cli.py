"""``shipyard monitor report|labels|run`` through the CLI."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import pandas as pd
import pytest
from _monitor_data import START, log_frame, write_parts
from typer.testing import CliRunner

from shipyard.cli import _common
from shipyard.cli._monitor import app
from shipyard.models import build_profile
from shipyard.models._profile import write_profile

HOUR = dt.timedelta(hours=1)


@pytest.fixture(autouse=True)
def wide_console() -> None:
    _common.console.width = 300


def _write(cancer: pd.DataFrame, root: Path, folder: Path, start: dt.datetime) -> pd.DataFrame:
    features = cancer.drop(columns=["target"])
    write_profile(build_profile(features), folder)
    frames = []
    for hour in range(4):
        rows = cancer.sample(300, replace=True, random_state=hour).reset_index(drop=True)
        x = rows.drop(columns=["target"])
        if hour == 3:
            x["worst area"] *= 1.8
        frames.append(log_frame(x, start + hour * HOUR, predictions=rows["target"].to_numpy()))
        frames[-1]["truth"] = rows["target"]
    frame = pd.concat(frames, ignore_index=True)
    write_parts(root, frame.drop(columns=["truth"]))
    return frame


@pytest.fixture
def logged(cancer: pd.DataFrame, log_root: Path, tmp_path: Path) -> pd.DataFrame:
    return _write(cancer, log_root, tmp_path, START)


def test_labels_then_report(logged: pd.DataFrame, log_root: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    labels = logged[["request_id", "truth"]].rename(columns={"truth": "label"})
    labels.to_csv(tmp_path / "labels.csv", index=False)
    state = tmp_path / "mon"
    done = runner.invoke(app, ["labels", "-i", str(tmp_path / "labels.csv"), "--state", str(state)])
    assert done.exit_code == 0, done.output
    assert "Stored 1200 labels" in done.output

    out = tmp_path / "out" / "report"
    args = ["report", "--model", "cancer", "--since", START.isoformat(), "--until",
            (START + 4 * HOUR).isoformat(), "--log", str(log_root), "--state", str(state),
            "--reference", str(tmp_path / "reference_profile.json"), "-o", str(out)]  # fmt: skip
    done = runner.invoke(app, args)
    assert done.exit_code == 0, done.output
    assert "worst area" in done.output
    report = json.loads(out.with_suffix(".json").read_text())
    (section,) = report["versions"]
    assert [w["rows"] for w in section["windows"]] == [300, 300, 300, 300]
    assert [w["drift"]["drifted_columns"] for w in section["windows"]][3] == ["worst area"]
    assert section["windows"][0]["performance"]["metrics"]["accuracy"] == 1.0
    page = out.with_suffix(".html").read_text()
    assert page.startswith("<!doctype html>")
    assert "worst area" in page and "<svg" in page and "<script" not in page


def test_run_once_with_a_command_action(
    cancer: pd.DataFrame, log_root: Path, tmp_path: Path
) -> None:
    # the command runs on the real clock: the log covers the last four closed hours
    recent = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) - 4 * HOUR
    _write(cancer, log_root, tmp_path, recent)
    marker = tmp_path / "retrain.txt"
    (tmp_path / "monitor.yaml").write_text(
        f"""
model: cancer
inference_log: {log_root}
state_dir: mon
reference: reference_profile.json
alerts:
  - {{name: drift, metric: drifted_columns, above: 0, actions: [retrain]}}
actions:
  retrain:
    type: command
    command: [{sys.executable}, -c, "open({str(marker)!r}, 'a').write('x')"]
"""
    )
    runner = CliRunner()
    args = ["run", "--policy", str(tmp_path / "monitor.yaml"), "--once",
            "--tracking-uri", str(tmp_path / "tracking")]  # fmt: skip
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "retrain" in first.output
    second = runner.invoke(app, args)
    assert second.exit_code == 0, second.output
    assert marker.read_text() == "x"  # one incident, one run of the command


def test_bad_policy_is_one_line_naming_the_field(tmp_path: Path) -> None:
    (tmp_path / "monitor.yaml").write_text("model: m\nalerts: [{name: a, metric: f1}]\n")
    done = CliRunner().invoke(app, ["run", "--policy", str(tmp_path / "monitor.yaml"), "--once"])
    assert done.exit_code == 1
    assert "alerts.0: give exactly one of 'above' or 'below'" in done.output
