"""The issue's acceptance cases, with real scikit-learn models on the bundled breast-cancer data.

Every failure message must say which check failed, the measured value and the bound.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from _gate_models import DROPPED, Bundle

from shipyard import gates


def _policy(tmp_path: Path, checks: str, **top: str) -> Path:
    header = "".join(f"{k}: {v}\n" for k, v in top.items())
    path = tmp_path / "gates.yaml"
    path.write_text(f"promote_to: production\nlabel: target\n{header}checks:\n{checks}")
    return path


def _only(report: gates.GateReport, name: str) -> gates.CheckResult:
    (found,) = [c for c in report.checks if c.name == name]
    return found


def test_a_better_model_passes(bundle: Bundle, eval_data: pd.DataFrame, tmp_path: Path) -> None:
    policy = _policy(
        tmp_path,
        "  - {type: metric, metric: f1, min: 0.95, min_gain: 0.02}\n"
        "  - {type: schema}\n"
        "  - {type: calibration, max_ece: 0.1}\n",
    )
    report = gates.run(
        bundle.models["logistic"], policy, eval_data, baseline=bundle.models["stump"]
    )
    assert report.passed, [c.message for c in report.checks]
    metric = _only(report, "metric:f1:vs-baseline")
    assert metric.measured["value"] > 0.97
    assert metric.measured["gain_ci_low"] >= 0.02
    assert metric.measured["gain"] > 0.05


def test_a_gain_within_noise_fails_the_relative_check(
    bundle: Bundle, eval_data: pd.DataFrame, tmp_path: Path
) -> None:
    """F1 >= baseline + 2 points: the point gain clears it, its 95% interval does not."""
    policy = _policy(tmp_path, "  - {type: metric, metric: f1, min_gain: 0.02}\n")
    report = gates.run(bundle.models["tree2"], policy, eval_data, baseline=bundle.models["stump"])
    metric = _only(report, "metric:f1:vs-baseline")
    gain, low, high = (metric.measured[k] for k in ("gain", "gain_ci_low", "gain_ci_high"))
    assert gain > 0.02  # better by more than 2 points on this sample ...
    assert low < 0.0  # ... but the interval reaches below no gain at all
    assert not report.passed
    assert metric.message == (
        f"metric:f1:vs-baseline: FAILED: gain over the baseline ({bundle.models['stump']}, f1 = "
        f"{metric.measured['baseline']:.4g}) is {gain:+.4g} (95% CI {low:+.4g} to {high:+.4g}): "
        "the interval's lower end is below the required gain +0.02"
    )


def test_a_model_that_crashes_on_missing_values_fails_robustness(
    bundle: Bundle, eval_data: pd.DataFrame, tmp_path: Path
) -> None:
    policy = _policy(tmp_path, "  - {type: robustness, cases: [missing_values, outliers]}\n")
    crashing = gates.run(bundle.models["logistic"], policy, eval_data)
    robust = gates.run(bundle.models["boosting"], policy, eval_data)
    check = _only(crashing, "robustness")
    assert not crashing.passed
    assert check.message.startswith("robustness: FAILED: 30 of 60 perturbed inputs failed")
    assert "allowed: 0" in check.message
    assert "missing_values in 'mean radius': crashed with ValueError: Input X contains NaN" in (
        check.message
    )
    outcomes = {(r["case"], r["column"]): r["outcome"] for r in check.table}
    assert outcomes[("outliers", "mean radius")] == "ok"
    assert robust.passed, robust.checks[0].message


def test_a_pinned_vulnerable_requirement_fails(
    bundle: Bundle, eval_data: pd.DataFrame, tmp_path: Path
) -> None:
    policy = _policy(tmp_path, f"  - {{type: vulnerabilities, database: {bundle.osv}}}\n")
    vulnerable = gates.run(bundle.models["vulnerable"], policy, eval_data)
    patched = gates.run(bundle.models["patched"], policy, eval_data)
    check = vulnerable.checks[0]
    assert not vulnerable.passed
    assert check.message == (
        "vulnerabilities: FAILED: 1 advisory(ies) at or above high severity in the pinned "
        "requirements, allowed: 0: urllib3==1.26.4: GHSA-q2q7-5pp4-w6pg (high), fixed in 1.26.5"
    )
    assert check.table[0]["aliases"] == ["CVE-2021-33503"]
    assert patched.passed, patched.checks[0].message


def test_a_model_that_drops_an_input_column_fails_schema(
    bundle: Bundle, eval_data: pd.DataFrame, tmp_path: Path
) -> None:
    policy = _policy(tmp_path, "  - {type: schema}\n")
    report = gates.run(
        bundle.models["dropped"], policy, eval_data, baseline=bundle.models["logistic"]
    )
    check = report.checks[0]
    assert not report.passed
    assert check.message == (
        "schema: FAILED: 1 breaking input change(s) against the baseline "
        f"({bundle.models['logistic']}): {DROPPED!r} removed; allowed: 0"
    )
    assert check.table == [
        {"column": DROPPED, "change": "removed", "baseline": "double", "candidate": None,
         "breaking": True}
    ]  # fmt: skip
    same = gates.run(
        bundle.models["logistic_c01"], policy, eval_data, baseline=bundle.models["logistic"]
    )
    assert same.passed, same.checks[0].message


def test_a_biased_model_fails_fairness(
    bundle: Bundle, eval_data: pd.DataFrame, tmp_path: Path
) -> None:
    policy = _policy(
        tmp_path, "  - {type: fairness, metric: recall, group_column: group, max_gap: 0.1}\n"
    )
    biased = gates.run(bundle.models["biased"], policy, eval_data)
    fair = gates.run(bundle.models["logistic"], policy, eval_data)
    check = biased.checks[0]
    gap = check.measured["gap"]
    assert not biased.passed
    assert gap > 0.9  # group b's benign cases are almost all denied
    assert check.message.startswith(
        f"fairness:recall:group: FAILED: recall gap between groups of 'group' is {gap:.4g} (a: "
    )
    assert check.message.endswith("above the maximum 0.1")
    assert fair.passed and fair.checks[0].measured["gap"] < 0.1


def test_every_check_on_one_model(bundle: Bundle, eval_data: pd.DataFrame, tmp_path: Path) -> None:
    policy = _policy(
        tmp_path,
        "  - {type: metric, metric: roc_auc, min: 0.95}\n"
        "  - {type: metric, metric: log_loss, max: 0.3, min_gain: 0.0}\n"
        "  - {type: calibration, max_ece: 0.1, max_brier: 0.1}\n"
        "  - {type: stability, max_changed: 0.05}\n"
        "  - {type: schema}\n"
        "  - {type: robustness, cases: [outliers], edge_cases: [{'mean radius': 0.0}]}\n"
        "  - {type: latency, single_p99_ms: 2000, batch_p99_ms: 5000, repeats: 20}\n"
        "  - {type: size, max_bytes: 5MB}\n"
        f"  - {{type: vulnerabilities, database: {bundle.osv}}}\n",
    )
    report = gates.run(
        bundle.models["logistic"], policy, eval_data, baseline=bundle.models["stump"]
    )
    assert report.passed, [c.message for c in report.failures]
    assert [c.type for c in report.checks] == [
        "metric", "metric", "calibration", "stability", "schema", "robustness", "latency",
        "size", "vulnerabilities",
    ]  # fmt: skip
    size = _only(report, "size")
    on_disk = sum(p.stat().st_size for p in bundle.models["logistic"].rglob("*") if p.is_file())
    assert size.measured["bytes"] == on_disk
    edge = [r for r in _only(report, "robustness").table if r["case"] == "edge_case"]
    assert edge == [
        {"case": "edge_case", "column": "#1 mean radius=0.0", "rows": 1, "outcome": "ok"}
    ]


def test_a_size_bound_names_both_numbers(
    bundle: Bundle, eval_data: pd.DataFrame, tmp_path: Path
) -> None:
    policy = _policy(tmp_path, "  - {type: size, max_bytes: 1KB}\n")
    report = gates.run(bundle.models["logistic"], policy, eval_data)
    size = report.checks[0].measured["bytes"]
    assert report.checks[0].message.startswith(f"size: FAILED: package size = {size} bytes")
    assert "above the maximum 1000 bytes" in report.checks[0].message


def test_latency_stops_timing_when_its_budget_is_spent(
    bundle: Bundle, eval_data: pd.DataFrame, tmp_path: Path
) -> None:
    policy = _policy(
        tmp_path, "  - {type: latency, single_p99_ms: 5000, repeats: 500, max_seconds: 0.000001}\n"
    )  # a budget no call fits in: only the least number of calls (a 1 ms one let a fast box
    # start a fourth batch call)
    check = gates.run(bundle.models["logistic"], policy, eval_data).checks[0]
    assert (check.measured["single_calls"], check.measured["batch_calls"]) == (20, 3)
    assert check.passed and 0 < check.measured["single_p50_ms"] <= check.measured["single_p99_ms"]
