"""Acceptance: a shifted feature is flagged, the untouched ones are not, and 20 clean windows
raise no alarm at the default thresholds (bundled breast-cancer data, drift injected here)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _monitor_data import START, log_frame, write_parts

from shipyard.models import build_profile
from shipyard.monitoring import (
    DriftSettings,
    Monitor,
    Reference,
    WindowProfile,
    dataset_drift,
    merge_profiles,
)

HOUR = dt.timedelta(hours=1)


def _features(cancer: pd.DataFrame) -> pd.DataFrame:
    features = cancer.drop(columns=["target"]).copy()
    rng = np.random.default_rng(7)
    features["site"] = rng.choice(["north", "south", "east"], len(features), p=[0.5, 0.3, 0.2])
    return features


def _sample(features: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    return features.sample(n, replace=True, random_state=seed).reset_index(drop=True)


@pytest.fixture
def setup(cancer: pd.DataFrame, log_root: Path, tmp_path: Path) -> tuple[Monitor, pd.DataFrame]:
    features = _features(cancer)
    reference = Reference.from_profile(build_profile(features))
    now = START + dt.timedelta(days=3)
    monitor = Monitor(log_root, tmp_path / "monitoring", reference, clock=lambda: now)
    return monitor, features


def test_shifted_feature_flagged_and_20_clean_windows_raise_nothing(
    setup: tuple[Monitor, pd.DataFrame], log_root: Path
) -> None:
    monitor, features = setup
    frames = [log_frame(_sample(features, 2000, seed), START + seed * HOUR) for seed in range(20)]
    for seed in range(20, 23):
        shifted = _sample(features, 2000, seed)
        shifted["mean radius"] += features["mean radius"].std()
        frames.append(log_frame(shifted, START + seed * HOUR))
    write_parts(log_root, pd.concat(frames, ignore_index=True))

    windows = monitor.windows("cancer", "1", START, START + 23 * HOUR, "hour")

    assert len(windows) == 23
    clean, drifted = windows[:20], windows[20:]
    assert all(w["rows"] == 2000 for w in windows)
    for window in clean:
        assert window["drift"]["drifted_columns"] == []
        assert window["drift"]["dataset_drift"] is False
        assert window["drift"]["compared_columns"] == 31
    for window in drifted:
        assert window["drift"]["drifted_columns"] == ["mean radius"]
        radius = next(c for c in window["drift"]["columns"] if c["column"] == "mean radius")
        assert radius["method"] == "wasserstein"
        assert radius["statistic"] > 0.5
        assert window["drift"]["drift_share"] == pytest.approx(1 / 31)


def test_small_windows_use_a_test_with_a_p_value(setup: tuple[Monitor, pd.DataFrame]) -> None:
    monitor, features = setup
    reference = monitor.reference("cancer", "1")
    shifted = _sample(features, 300, 1)
    shifted["mean texture"] *= 1.3
    shifted["site"] = "east"
    profile = WindowProfile.build(log_frame(shifted, START), reference, START, START + HOUR)
    drift = dataset_drift(profile, reference)
    by_name = {c["column"]: c for c in drift["columns"]}
    assert by_name["mean texture"]["method"] == "ks"
    assert by_name["mean texture"]["drifted"] is True
    assert by_name["site"]["method"] == "chisquare"
    assert by_name["site"]["drifted"] is True
    assert set(drift["drifted_columns"]) == {"mean texture", "site"}


def test_large_windows_judge_categories_by_jensen_shannon(
    setup: tuple[Monitor, pd.DataFrame],
) -> None:
    monitor, features = setup
    reference = monitor.reference("cancer", "1")
    window = _sample(features, 5000, 3)
    window.loc[: len(window) // 2, "site"] = "north"
    profile = WindowProfile.build(log_frame(window, START), reference, START, START + HOUR)
    drift = dataset_drift(profile, reference)
    site = next(c for c in drift["columns"] if c["column"] == "site")
    assert site["method"] == "jensenshannon"
    assert site["statistic"] > 0.1
    assert drift["drifted_columns"] == ["site"]


def test_drift_share_decides_the_data_set(setup: tuple[Monitor, pd.DataFrame]) -> None:
    monitor, features = setup
    reference = monitor.reference("cancer", "1")
    window = _sample(features, 2000, 4)
    numeric = [c for c in window.columns if c != "site"][:16]
    for name in numeric:
        window[name] = window[name] * 1.5 + window[name].std()
    profile = WindowProfile.build(log_frame(window, START), reference, START, START + HOUR)
    drift = dataset_drift(profile, reference)
    assert set(drift["drifted_columns"]) == set(numeric)
    assert drift["dataset_drift"] is True  # 16 of 31 >= 0.5
    stricter = dataset_drift(profile, reference, DriftSettings(drift_share=0.6))
    assert stricter["dataset_drift"] is False


def test_missing_values_and_unseen_categories_are_their_own_signals(
    setup: tuple[Monitor, pd.DataFrame],
) -> None:
    monitor, features = setup
    reference = monitor.reference("cancer", "1")
    window = _sample(features, 2000, 5)
    window.loc[:399, "mean area"] = np.nan  # 20% missing, none in the reference
    window.loc[:299, "site"] = "west"  # 15% of a category the reference never saw
    profile = WindowProfile.build(log_frame(window, START), reference, START, START + HOUR)
    drift = dataset_drift(profile, reference)
    assert drift["missing_signals"] == ["mean area"]
    assert drift["unseen_signals"] == ["site"]
    site = next(c for c in drift["columns"] if c["column"] == "site")
    assert site["top_unseen"] == [{"value": "west", "count": 300}]
    area = next(c for c in drift["columns"] if c["column"] == "mean area")
    assert area["missing_rate"] == pytest.approx(0.2)
    assert area["drifted"] is False  # the values that are there did not move


def test_a_day_merges_from_24_stored_hourly_profiles(
    setup: tuple[Monitor, pd.DataFrame],
) -> None:
    monitor, features = setup
    reference = monitor.reference("cancer", "1")
    hours = [
        WindowProfile.build(
            log_frame(_sample(features, 500, h), START + h * HOUR),
            reference,
            START + h * HOUR,
            START + (h + 1) * HOUR,
        )
        for h in range(24)
    ]
    stored = [json.dumps(p.to_dict()) for p in hours]

    # How long this takes is measured in benchmarks/monitoring.py, not asserted here.
    day = merge_profiles(WindowProfile.from_dict(json.loads(s), reference) for s in stored)
    drift = dataset_drift(day, reference)

    assert day.rows == 24 * 500
    assert drift["drifted_columns"] == []
    whole = pd.concat([log_frame(_sample(features, 500, h), START) for h in range(24)])
    direct = WindowProfile.build(whole, reference, START, START + 24 * HOUR)
    for name, sketch in direct.sketches.items():  # merging = profiling all rows at once
        assert np.array_equal(sketch.counts, day.sketches[name].counts), name


def test_profiles_do_not_grow_with_rows(setup: tuple[Monitor, pd.DataFrame]) -> None:
    monitor, features = setup
    reference = monitor.reference("cancer", "1")

    def size(n: int) -> int:
        window = _sample(features, n, 6)
        window["site"] = [f"id-{i}" for i in range(n)]  # every value unseen and unique
        profile = WindowProfile.build(log_frame(window, START), reference, START, START + HOUR)
        return len(json.dumps(profile.to_dict()))

    small, large = size(1_000), size(100_000)
    assert large < small * 1.5
    assert large < 60_000


def test_day_and_row_windows(setup: tuple[Monitor, pd.DataFrame], log_root: Path) -> None:
    monitor, features = setup
    frames = [log_frame(_sample(features, 300, h), START + h * HOUR) for h in range(30)]
    write_parts(log_root, pd.concat(frames, ignore_index=True))
    days = monitor.windows("cancer", "1", START, START + 30 * HOUR, "day")
    assert [d["rows"] for d in days] == [24 * 300, 6 * 300]
    assert days[0]["start"] == START.isoformat()
    assert days[1]["end"] == (START + 2 * 24 * HOUR).isoformat()
    chunks = monitor.windows("cancer", "1", START, START + 30 * HOUR, "4000 rows")
    assert [c["rows"] for c in chunks] == [4000, 4000, 1000]
    # closed hours were stored: a second pass reads no log rows
    stored = list((monitor.state_dir / "profiles").rglob("*.json"))
    assert len(stored) == 30


def test_small_clean_windows_rarely_flag_a_column(setup: tuple[Monitor, pd.DataFrame]) -> None:
    """Binned KS is conservative: well under the nominal 5% of columns flag by chance."""
    monitor, features = setup
    reference = monitor.reference("cancer", "1")
    flagged, compared = 0, 0
    for seed in range(20):
        window = log_frame(_sample(features, 300, 100 + seed), START)
        profile = WindowProfile.build(window, reference, START, START + HOUR)
        drift = dataset_drift(profile, reference)
        assert drift["dataset_drift"] is False
        flagged += len(drift["drifted_columns"])
        compared += drift["compared_columns"]
    assert compared == 20 * 31
    assert flagged / compared < 0.02


def test_text_in_a_numeric_column_counts_as_missing(setup: tuple[Monitor, pd.DataFrame]) -> None:
    monitor, features = setup
    reference = monitor.reference("cancer", "1")
    window = _sample(features, 500, 8).astype({"mean area": object})
    window.loc[:249, "mean area"] = "n/a"
    profile = WindowProfile.build(log_frame(window, START), reference, START, START + HOUR)
    columns = dataset_drift(profile, reference)["columns"]
    area = next(c for c in columns if c["column"] == "mean area")
    assert area["count"] == 250
    assert area["missing_rate"] == pytest.approx(0.5)
    assert area["missing_drift"] is True
