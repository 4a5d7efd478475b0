"""The policy file: valid policies load with defaults; every mistake names its line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard.gates import InvalidPolicy, load_policy, parse_policy
from shipyard.gates._policy import MetricCheck, RobustnessCheck, SizeCheck, VulnerabilityCheck

GOOD = """\
promote_to: production
baseline: production
label: target
data: eval.parquet
bootstrap: {resamples: 500, confidence: 0.9}
checks:
  - type: metric
    metric: f1
    min: 0.8
    min_gain: 0.02
  - type: size
    max_bytes: 50MB
  - type: robustness
  - type: vulnerabilities
    database: osv/
    fail_at: medium
"""


def test_a_valid_policy_loads_with_defaults_and_resolved_paths(tmp_path: Path) -> None:
    (tmp_path / "gates.yaml").write_text(GOOD)
    policy = load_policy(tmp_path / "gates.yaml")
    metric, size, robustness, vulns = policy.checks
    assert isinstance(metric, MetricCheck) and metric.label == "metric:f1:vs-baseline"
    assert isinstance(size, SizeCheck) and int(size.max_bytes) == 50_000_000
    assert isinstance(robustness, RobustnessCheck)
    assert robustness.cases == ["missing_values", "outliers", "empty_strings", "unseen_categories"]
    assert isinstance(vulns, VulnerabilityCheck) and vulns.database == tmp_path / "osv"
    assert policy.data == tmp_path / "eval.parquet"
    assert (policy.bootstrap.resamples, policy.bootstrap.confidence) == (500, 0.9)
    assert policy.baseline_alias == "production"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (
            "promote_to: prod\nchecks:\n  - type: size\n    max_bytes: lots\n",
            4,
            "checks[0].max_bytes: could not parse value and unit from byte string",
        ),
        (
            "promote_to: prod\nlabel: y\nchecks:\n  - type: metric\n    metric: f2_score\n"
            "    min: 0.5\n",
            5,
            "checks[0].metric: Unknown metric 'f2_score'",
        ),
        (
            "promote_to: prod\nchecks:\n  - type: size\n    max_bytes: 1MB\n  - type: latncy\n",
            5,
            "checks[1]: Input tag 'latncy' found using 'type' does not match any of the expected",
        ),
        (
            "promote_to: prod\nlabel: y\nchecks:\n  - type: metric\n    metric: f1\n",
            4,
            "checks[0]: give at least one of min, max or min_gain",
        ),
        (
            "promote_to: prod\nchecks:\n  - type: size\n    max_bytes: 1MB\n    colour: red\n",
            5,
            "checks[0].colour: Extra inputs are not permitted",
        ),
        ("checks:\n  - type: size\n    max_bytes: 1MB\n", 1, "promote_to: Field required"),
        (
            "promote_to: prod\nchecks:\n  - {type: fairness, group_column: g, max_gap: 0.1}\n",
            1,
            "policy: metric, fairness and calibration checks need `label`",
        ),
        ("promote_to: prod\nchecks: [\n  - type: size\n", 3, "not valid YAML"),
    ],
)
def test_a_bad_policy_names_the_line_and_field(text: str, line: int, message: str) -> None:
    with pytest.raises(InvalidPolicy) as caught:
        parse_policy(text, source=Path("gates.yaml"))
    assert caught.value.line == line
    assert caught.value.message.startswith(f"gates.yaml line {line}: ")
    assert message in caught.value.message


def test_a_missing_policy_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidPolicy, match=r"Cannot read the gate policy .*nope.yaml"):
        load_policy(tmp_path / "nope.yaml")


def test_two_checks_with_one_name_are_refused() -> None:
    text = (
        "promote_to: p\nchecks:\n  - {type: size, max_bytes: 1}\n  - {type: size, max_bytes: 2}\n"
    )
    with pytest.raises(InvalidPolicy, match="two checks are named 'size'"):
        parse_policy(text)


def test_any_sklearn_metric_needs_a_known_direction() -> None:
    ok = parse_policy(
        "promote_to: p\nlabel: y\nchecks:\n  - {type: metric, metric: jaccard_score, min: 0.5}\n"
    )
    assert isinstance(ok.checks[0], MetricCheck)
    with pytest.raises(InvalidPolicy, match="set greater_is_better"):
        parse_policy("promote_to: p\nlabel: y\nchecks:\n  - {type: metric, metric: auc, min: 1}\n")
