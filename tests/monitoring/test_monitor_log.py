"""Reading the inference log: the owner's reader and this package's own fallback agree."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from _monitor_data import START, log_frame, write_parts

from shipyard.inference_log import InferenceLogWriter
from shipyard.models import build_profile
from shipyard.monitoring import Monitor, Reference, _log

HOUR = dt.timedelta(hours=1)


@pytest.fixture
def two_days(cancer: pd.DataFrame, log_root: Path) -> None:
    x = cancer.drop(columns=["target"]).head(48)
    frames = [
        log_frame(x.iloc[[h]], START + h * HOUR, version=v) for h in range(48) for v in ("1", "10")
    ]
    write_parts(log_root, pd.concat(frames, ignore_index=True))


@pytest.mark.parametrize("owner", [True, False], ids=["owner-reader", "fallback"])
def test_range_and_version_filters(
    two_days: None, log_root: Path, owner: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not owner:
        monkeypatch.setattr(_log, "_owner_reader", lambda: None)
    since, until = START + 20 * HOUR, START + 30 * HOUR
    frame = _log.read_log(log_root, "cancer", "10", since, until)
    assert len(frame) == 10
    assert set(frame["model_version"]) == {"10"}
    assert frame["timestamp"].min() == pd.Timestamp(since)
    assert frame["timestamp"].is_monotonic_increasing
    assert "in.mean radius" in frame.columns
    assert _log.list_versions(log_root, "cancer") == ["1", "10"]
    assert _log.read_log(log_root, "absent").empty


def test_to_utc() -> None:
    assert _log.to_utc("2026-11-01T02:00") == dt.datetime(2026, 11, 1, 2, tzinfo=dt.UTC)
    with pytest.raises(ValueError, match="ISO 8601"):
        _log.to_utc("soon")


def test_a_log_in_s3(cancer: pd.DataFrame, moto_server: Any, tmp_path: Path) -> None:
    bucket = moto_server.new_bucket()
    root = f"s3://{bucket}/inference-log"
    x = cancer.drop(columns=["target"]).head(300)
    with InferenceLogWriter(root, s3=moto_server.settings) as log:
        log.log(
            model_name="cancer",
            model_version="3",
            source="batch",
            request_id=[f"r{i}" for i in range(len(x))],
            inputs=x,
            outputs=cancer["target"].head(300).to_numpy(),
            timestamp=(START + dt.timedelta(minutes=5)).timestamp(),
        )
    reference = Reference.from_profile(build_profile(x))
    monitor = Monitor(
        root, tmp_path / "mon", reference, clock=lambda: START + 2 * HOUR, s3=moto_server.settings
    )
    assert monitor.versions("cancer") == ["3"]
    (window,) = monitor.windows("cancer", "3", START, START + HOUR)
    assert window["rows"] == 300
    assert window["drift"]["drifted_columns"] == []
