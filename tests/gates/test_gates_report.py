"""The report files (JSON and a self-contained HTML page) and the scorecard."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
from _gate_models import Bundle

from shipyard import gates

POLICY = """\
promote_to: production
label: target
checks:
  - {type: metric, metric: f1, min: 0.9, min_gain: 0.0}
  - {type: fairness, metric: recall, group_column: group, max_gap: 0.1}
  - {type: calibration, max_ece: 0.2}
  - {type: size, max_bytes: 10MB}
"""


def test_the_report_is_written_as_json_and_self_contained_html(
    bundle: Bundle, eval_data: pd.DataFrame, tmp_path: Path
) -> None:
    (tmp_path / "gates.yaml").write_text(POLICY)
    out = tmp_path / "report"
    report = gates.run(
        bundle.models["biased"], tmp_path / "gates.yaml", eval_data,
        baseline=bundle.models["logistic"], output_dir=out,
    )  # fmt: skip
    saved = json.loads((out / gates.REPORT_JSON).read_text())
    assert saved["passed"] is False and report.passed is False
    assert saved["format_version"] == 1
    assert [c["name"] for c in saved["checks"]] == [c.name for c in report.checks]
    fairness = next(c for c in saved["checks"] if c["type"] == "fairness")
    assert fairness["measured"]["gap"] == report.checks[1].measured["gap"]
    assert {row["group"] for row in fairness["table"]} == {"a", "b"}
    page = (out / gates.REPORT_HTML).read_text()
    assert page.startswith("<!doctype html>") and "FAILED" in page
    assert page.count("<svg") == 3  # bootstrap gain, recall by group, reliability diagram
    assert not re.search(r"""(src|href)=["']?https?:""", page)  # nothing fetched from outside
    assert report.checks[1].message.replace("'", "&#x27;") in page


def test_a_crashing_candidate_fails_each_check_that_needs_predictions(
    bundle: Bundle, eval_data: pd.DataFrame, tmp_path: Path
) -> None:
    (tmp_path / "gates.yaml").write_text(POLICY)
    broken = eval_data.assign(**{"mean radius": float("nan")})
    report = gates.run(bundle.models["logistic"], tmp_path / "gates.yaml", broken)
    metric, fairness, calibration, size = report.checks
    expected = (
        "the candidate failed to predict on the evaluation data: ValueError: Input X contains NaN."
    )
    assert metric.message == f"metric:f1:vs-baseline: FAILED: {expected}"
    assert fairness.message.endswith(expected) and calibration.message.endswith(expected)
    assert size.passed  # checks that need no prediction still give their verdict


def test_the_scorecard_ranks_on_every_check(
    bundle: Bundle, eval_data: pd.DataFrame, tmp_path: Path
) -> None:
    (tmp_path / "gates.yaml").write_text(POLICY)
    models = bundle.models
    card = gates.compare(
        [models["stump"], models["biased"], models["logistic"]], tmp_path / "gates.yaml", eval_data
    )
    assert card.ranking == [str(models["logistic"]), str(models["stump"]), str(models["biased"])]
    assert card.summary[0]["candidate"] == str(models["logistic"])
    assert card.summary[0]["blocking checks passed"] == "4 of 4"
    f1_row = card.rows[0]
    assert f1_row["check"] == "metric:f1:vs-baseline"
    assert f1_row[str(models["logistic"])].startswith("pass 0.98")
    assert "<table>" in card.to_html()
    assert json.loads(json.dumps(card.to_dict(), default=str))["ranking"] == card.ranking
