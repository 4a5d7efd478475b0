"""Realized performance from late labels, and operational health, per window."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _monitor_data import START, log_frame, write_parts
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from shipyard import Client
from shipyard.errors import InvalidParameter
from shipyard.models import build_profile
from shipyard.monitoring import LabelStore, Monitor, Reference, join_labels, realized_metrics
from shipyard.monitoring._baseline import run_baseline

HOUR = dt.timedelta(hours=1)


@pytest.fixture
def scored(cancer: pd.DataFrame, log_root: Path, tmp_path: Path) -> tuple[Monitor, pd.DataFrame]:
    """Three hours of logged predictions of a real classifier; labels not yet known."""
    features, target = cancer.drop(columns=["target"]), cancer["target"]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(features, target)
    reference = Reference.from_profile(build_profile(features, model.predict(features)))
    frames, truth = [], []
    for hour in range(3):
        rows = cancer.sample(150, random_state=hour).reset_index(drop=True)
        x = rows.drop(columns=["target"])
        frame = log_frame(
            x,
            START + hour * HOUR,
            predictions=model.predict(x),
            proba=model.predict_proba(x),
        )
        frames.append(frame)
        truth.append(pd.DataFrame({"request_id": frame["request_id"], "label": rows["target"]}))
    write_parts(log_root, pd.concat(frames, ignore_index=True))
    clock = START + dt.timedelta(days=1)
    monitor = Monitor(log_root, tmp_path / "mon", reference, clock=lambda: clock)
    return monitor, pd.concat([t.assign(hour=i) for i, t in enumerate(truth)], ignore_index=True)


def test_late_labels_change_f1_of_the_right_windows(
    scored: tuple[Monitor, pd.DataFrame],
) -> None:
    monitor, truth = scored
    before = monitor.windows("cancer", "1", START, START + 3 * HOUR)
    assert [w["performance"] for w in before] == [None, None, None]

    monitor.labels.ingest(truth[truth["hour"] == 0].drop(columns="hour"))
    first = monitor.windows("cancer", "1", START, START + 3 * HOUR)
    f1_hour0 = first[0]["performance"]["metrics"]["f1"]
    assert first[0]["performance"]["labelled_rows"] == 150
    assert f1_hour0 > 0.9
    assert first[1]["performance"] is None and first[2]["performance"] is None

    # hour 1's labels arrive later and say the model got every row wrong
    late = truth[truth["hour"] == 1].drop(columns="hour")
    monitor.labels.ingest(late.assign(label=1 - late["label"]))
    second = monitor.windows("cancer", "1", START, START + 3 * HOUR)
    assert second[0]["performance"]["metrics"]["f1"] == pytest.approx(f1_hour0)
    assert second[1]["performance"]["metrics"]["f1"] < 0.1
    assert second[2]["performance"] is None

    # a corrected upload replaces the older labels of the same rows
    monitor.labels.ingest(late)
    third = monitor.windows("cancer", "1", START, START + 3 * HOUR)
    assert third[1]["performance"]["metrics"]["f1"] > 0.9


def test_realized_metrics_match_sklearn_and_compare_with_baseline(
    scored: tuple[Monitor, pd.DataFrame], log_root: Path
) -> None:
    monitor, truth = scored
    monitor.labels.ingest(truth.drop(columns="hour"))
    windows = monitor.windows(
        "cancer", "1", START, START + 3 * HOUR, baseline={"f1": 0.99, "accuracy": 0.98}
    )
    log = pd.read_parquet(next(log_root.rglob("*.parquet")))
    joined = join_labels(log, monitor.labels.read())
    hour0 = joined[joined["timestamp"] < START + HOUR]
    expected = f1_score(hour0["label"], hour0["out.prediction"])
    perf = windows[0]["performance"]
    assert perf["task"] == "classification"
    assert perf["metrics"]["f1"] == pytest.approx(expected)
    assert perf["metrics"]["roc_auc"] > 0.95
    assert perf["change"]["f1"] == pytest.approx(expected - 0.99)
    assert set(perf["baseline"]) == {"f1", "accuracy"}


def test_regression_metrics() -> None:
    joined = pd.DataFrame({"label": [1.5, 2.5, 3.5], "out.prediction": [1.0, 3.0, 3.5]})
    result = realized_metrics(joined)
    assert result["task"] == "regression"
    assert result["metrics"]["mae"] == pytest.approx(1 / 3)
    assert result["metrics"]["rmse"] == pytest.approx(np.sqrt(0.5 / 3))


def test_labels_of_multi_row_requests_join_by_row(tmp_path: Path) -> None:
    log = pd.DataFrame(
        {"request_id": ["a", "a", "b"], "out.prediction": [1, 0, 1], "timestamp": START}
    )
    store = LabelStore(tmp_path)
    store.ingest(pd.DataFrame({"request_id": ["a", "a", "b"], "label": [1, 1, 0]}))
    joined = join_labels(log, store.read())
    assert joined["label"].tolist() == [1, 1, 0]
    assert joined["row"].tolist() == [0, 1, 0]


def test_bad_labels_are_refused_with_the_column_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameter, match="missing: label"):
        LabelStore(tmp_path).ingest(pd.DataFrame({"request_id": ["a"], "y": [1]}))


def test_operations_per_window(cancer: pd.DataFrame, log_root: Path, tmp_path: Path) -> None:
    x = cancer.drop(columns=["target"]).head(200)
    latency = np.linspace(1.0, 200.0, 200)
    status = np.where(np.arange(200) % 10 == 0, "error", "ok")
    write_parts(log_root, log_frame(x, START, latency_ms=latency, status=status))
    monitor = Monitor(log_root, tmp_path / "mon", None, clock=lambda: START + 2 * HOUR)
    (window,) = monitor.windows("cancer", "1", START, START + HOUR)
    ops = window["operations"]
    assert window["drift"] is None  # no reference: operations only
    assert ops["requests"] == 200
    assert ops["error_rate"] == pytest.approx(0.1)
    assert ops["throughput_rps"] == pytest.approx(200 / 3600)
    assert ops["latency_p50_ms"] == pytest.approx(np.quantile(latency, 0.5), rel=0.03)
    assert ops["latency_p99_ms"] == pytest.approx(np.quantile(latency, 0.99), rel=0.03)


def test_baseline_from_the_versions_run(
    scored: tuple[Monitor, pd.DataFrame], tmp_path: Path
) -> None:
    """The version's run logged ``test_f1``: realized F1 is compared with it."""
    shipyard_client = Client(str(tmp_path / "tracking"))
    experiment = shipyard_client.create_experiment("training")
    run = shipyard_client.create_run(experiment)
    shipyard_client.log_metric(run.info.run_id, "test_f1", 0.97)
    shipyard_client.log_metric(run.info.run_id, "accuracy", 0.96)
    shipyard_client.create_registered_model("cancer")
    version = shipyard_client.create_model_version(
        "cancer", f"runs:/{run.info.run_id}/model", run_id=run.info.run_id
    )
    assert version.version == "1"

    monitor, truth = scored
    monitor.labels.ingest(truth.drop(columns="hour"))
    baseline = run_baseline(shipyard_client, "cancer")
    windows = monitor.windows("cancer", "1", START, START + 3 * HOUR, baseline=baseline)
    perf = windows[0]["performance"]
    assert perf["baseline"] == {"f1": 0.97, "accuracy": 0.96}
    assert perf["change"]["f1"] == pytest.approx(perf["metrics"]["f1"] - 0.97)
    assert run_baseline(shipyard_client, "cancer")("7") is None  # no such version: no baseline
