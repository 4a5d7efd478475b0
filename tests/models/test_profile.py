"""The reference profile: what it summarises, and that it holds no rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _flavor_cases import wine_frame, wine_pipeline
from sklearn.datasets import load_diabetes

import shipyard.sklearn
from shipyard.errors import InvalidParameter
from shipyard.models import PROFILE_FILE, build_profile


@pytest.fixture
def saved_profile(tmp_path: Path) -> tuple[dict[str, Any], pd.DataFrame]:
    pipeline, frame = wine_pipeline()
    frame = frame.copy()
    frame.loc[frame.index[:10], "ash"] = np.nan
    shipyard.sklearn.save_model(
        pipeline,
        tmp_path / "m",
        input_example=frame.head(2).fillna(0.0),
        reference_data=frame,
        reference_predictions=pipeline.predict(frame.fillna(0.0)),
    )
    return json.loads((tmp_path / "m" / PROFILE_FILE).read_text()), frame


def test_numeric_columns_have_quantiles_histogram_and_missing_rate(
    saved_profile: tuple[dict[str, Any], pd.DataFrame],
) -> None:
    profile, frame = saved_profile
    assert profile["profile_format_version"] == 1
    assert profile["row_count"] == len(frame)
    alcohol = profile["inputs"]["alcohol"]
    assert alcohol["kind"] == "numeric" and alcohol["missing_rate"] == 0.0
    assert alcohol["quantiles"]["0.5"] == pytest.approx(frame["alcohol"].median())
    assert alcohol["quantiles"]["0"] == frame["alcohol"].min()
    assert sum(alcohol["histogram"]["counts"]) == len(frame)
    assert len(alcohol["histogram"]["bin_edges"]) == len(alcohol["histogram"]["counts"]) + 1
    assert alcohol["mean"] == pytest.approx(frame["alcohol"].mean())
    assert profile["inputs"]["ash"]["missing_rate"] == pytest.approx(10 / len(frame))


def test_categorical_columns_have_frequencies(
    saved_profile: tuple[dict[str, Any], pd.DataFrame],
) -> None:
    profile, frame = saved_profile
    strength = profile["inputs"]["strength"]
    assert strength["kind"] == "categorical" and strength["distinct_count"] == 2
    expected = frame["strength"].value_counts(normalize=True)
    assert {t["value"]: t["frequency"] for t in strength["top"]} == pytest.approx(
        expected.to_dict()
    )
    assert profile["inputs"]["deep_color"]["kind"] == "categorical"


def test_outputs_are_profiled_when_predictions_are_given(
    saved_profile: tuple[dict[str, Any], pd.DataFrame],
) -> None:
    profile, frame = saved_profile
    prediction = profile["outputs"]["prediction"]
    assert prediction["count"] == len(frame)


def test_the_profile_holds_no_raw_rows(tmp_path: Path) -> None:
    """Only quantiles, bin edges and frequent categories: no other input value is stored."""
    data, _ = load_diabetes(return_X_y=True, as_frame=True)
    data["patient_id"] = [f"patient-{i:04d}" for i in range(len(data))]  # unique: an identifier
    data["site"] = np.where(data["age"] > 0, "north", "south")
    profile = build_profile(data)
    text = json.dumps(profile)
    assert "patient-" not in text  # no identifier leaks, not even as a "top" category
    assert profile["inputs"]["patient_id"]["top"] == []
    assert profile["inputs"]["patient_id"]["other_frequency"] == 1.0
    allowed: set[float] = set()
    for column in profile["inputs"].values():
        if column["kind"] == "numeric":
            allowed |= set(column["quantiles"].values()) | set(column["histogram"]["bin_edges"])
    stored_numbers = set(_numbers(profile["inputs"]))
    raw_values = set(data.select_dtypes("number").to_numpy().ravel().tolist())
    leaked = (stored_numbers & raw_values) - allowed
    assert not leaked
    assert len(text) < 20_000  # compact: independent of the row count
    assert not any(isinstance(v, list) and len(v) > 21 for v in _lists(profile))


def test_rare_categories_fold_into_other() -> None:
    frame = pd.DataFrame({"c": ["a"] * 10 + ["b"] * 4 + ["c"]})
    top = build_profile(frame, min_category_count=5)["inputs"]["c"]
    assert [t["value"] for t in top["top"]] == ["a"]
    assert top["other_frequency"] == pytest.approx(5 / 15)


def test_arrays_and_bad_inputs() -> None:
    profile = build_profile(np.arange(20.0).reshape(10, 2))
    assert set(profile["inputs"]) == {"0", "1"}
    with pytest.raises(InvalidParameter, match="1-2 dimensional"):
        build_profile(np.zeros((2, 2, 2)))
    with pytest.raises(InvalidParameter, match="rows"):
        build_profile(np.zeros((3, 1)), np.zeros(2))


def test_an_all_missing_column_and_datetimes() -> None:
    frame = pd.DataFrame(
        {"empty": [np.nan] * 3, "when": pd.to_datetime(["2024-01-01", "2024-01-02", None])}
    )
    profile = build_profile(frame)
    assert profile["inputs"]["empty"]["quantiles"] is None
    assert profile["inputs"]["empty"]["missing_rate"] == 1.0
    assert profile["inputs"]["when"]["kind"] == "datetime"
    json.dumps(profile, allow_nan=False)


def test_log_model_profile_is_written_only_when_asked(tmp_path: Path) -> None:
    frame, _ = wine_frame()
    pipeline, _ = wine_pipeline()
    shipyard.sklearn.save_model(pipeline, tmp_path / "m", input_example=frame.head(2))
    assert not (tmp_path / "m" / PROFILE_FILE).exists()


def _numbers(value: Any) -> list[float]:
    if isinstance(value, dict):
        return [n for v in value.values() for n in _numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in _numbers(v)]
    return [value] if isinstance(value, int | float) and not isinstance(value, bool) else []


def _lists(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [x for v in value.values() for x in _lists(v)]
    if isinstance(value, list):
        return [value, *[x for v in value for x in _lists(v)]]
    return []
