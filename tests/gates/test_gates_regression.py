"""Gates on a regressor (scikit-learn's bundled diabetes data): error metrics against a baseline,
output bounds in robustness, stability's tolerance, and calibration refusing a regression."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sklearn.datasets import load_diabetes
from sklearn.dummy import DummyRegressor
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.model_selection import train_test_split

import shipyard.sklearn
from shipyard import gates


@pytest.fixture(scope="module")
def diabetes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, pd.DataFrame]:
    root = tmp_path_factory.mktemp("diabetes")
    x, y = load_diabetes(return_X_y=True, as_frame=True)
    x_train, x_eval, y_train, y_eval = train_test_split(x, y, test_size=0.5, random_state=0)
    model = HistGradientBoostingRegressor(max_iter=60, random_state=0).fit(x_train, y_train)
    mean = DummyRegressor().fit(x_train, y_train)
    shipyard.sklearn.save_model(model, root / "boosting", input_example=x_train.head(3))
    shipyard.sklearn.save_model(mean, root / "mean", input_example=x_train.head(3))
    return root / "boosting", root / "mean", x_eval.assign(progression=y_eval)


def test_a_regressor_beats_the_mean_on_errors_and_stays_in_bounds(
    diabetes: tuple[Path, Path, pd.DataFrame],
) -> None:
    model, mean, data = diabetes
    policy = gates.parse_policy(
        "promote_to: production\nlabel: progression\nchecks:\n"
        "  - {type: metric, metric: rmse, max: 70, min_gain: 5}\n"
        "  - {type: metric, metric: r2, min: 0.2}\n"
        "  - type: robustness\n"
        "    cases: [missing_values, outliers]\n"
        "    output_min: 0\n"
        "    output_max: 400\n"
        "  - {type: stability, noise: 0.01, max_changed: 0.2, tolerance: 0.05}\n"
    )
    report = gates.run(model, policy, data, baseline=mean)
    rmse, r2, robustness, stability = report.checks
    assert report.passed, [c.message for c in report.failures]
    assert rmse.measured["baseline"] > rmse.measured["value"] + 5  # a gain is a lower error
    assert rmse.measured["gain"] == pytest.approx(
        rmse.measured["baseline"] - rmse.measured["value"]
    )
    assert rmse.measured["gain_ci_low"] >= 5
    assert 0.2 < r2.measured["value"] < 1
    assert robustness.measured == {"trials": 20, "failed": 0}
    assert stability.measured["rows"] == len(data)
    assert stability.measured["changed_share"] <= 0.2


def test_output_bounds_and_calibration_fail_with_their_numbers(
    diabetes: tuple[Path, Path, pd.DataFrame],
) -> None:
    model, _, data = diabetes
    policy = gates.parse_policy(
        "promote_to: production\nlabel: progression\nchecks:\n"
        "  - {type: robustness, cases: [outliers], columns: [bmi], output_max: 50}\n"
        "  - {type: calibration, max_ece: 0.1}\n"
    )
    robustness, calibration = gates.run(model, policy, data).checks
    assert not robustness.passed
    assert robustness.message.startswith(
        "robustness: FAILED: 1 of 1 perturbed inputs failed, allowed: 0: "
        "outliers in 'bmi': answered "
    )
    assert "above output_max 50" in robustness.message
    assert calibration.message == (
        "calibration: FAILED: calibration applies to classifiers; the label looks like a "
        "regression target"
    )
