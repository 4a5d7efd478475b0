"""End to end on a real server: a scoring app follows ``production``, writes the inference log,
late labels show F1 falling, ``monitor`` rolls the alias back with the evidence in the audit
trail, and the scoring app follows the rollback."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import shipyard
import shipyard.sklearn
from shipyard import Client
from shipyard.inference_log import read_inference_log
from shipyard.monitoring import ActionContext, parse_policy, policy_monitor, run_once
from shipyard.serving import ServingConfig, build_app


def _register(client: Client, name: str, model: object, features: pd.DataFrame) -> str:
    with shipyard.start_run() as run:
        info = shipyard.sklearn.log_model(model, "model", reference_data=features)
    version = client.create_model_version(name, info.model_uri, run_id=run.info.run_id)
    return str(version.version)


@pytest.mark.slow
def test_falling_f1_rolls_back_and_the_scoring_server_follows(
    live_server: str, cancer: pd.DataFrame, tmp_path: Path
) -> None:
    shipyard.set_tracking_uri(live_server)
    client = Client(live_server)
    name = f"cancer-{uuid.uuid4().hex[:8]}"
    features, target = cancer.drop(columns=["target"]), cancer["target"]
    good = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(features, target)
    bad = DummyClassifier(strategy="constant", constant=0).fit(features, target)
    client.create_registered_model(name)
    v1 = _register(client, name, good, features)
    v2 = _register(client, name, bad, features)
    client.set_registered_model_alias(name, "production", v1)
    client.set_registered_model_alias(name, "production", v2, reason="new model")

    log_root = tmp_path / "inference-log"
    config = ServingConfig(
        f"models:/{name}@production",
        tracking_uri=live_server,
        poll_interval=3600,
        log_root=str(log_root),
        log_flush_interval=0.05,
        trusted=True,
    )
    rows = cancer.sample(200, random_state=0).reset_index(drop=True)
    app = build_app(config)
    with TestClient(app) as scoring:
        ids = []
        for i in range(len(rows)):
            record = rows.drop(columns=["target"]).iloc[[i]].to_dict("records")
            answer = scoring.post("/invocations", json={"dataframe_records": record})
            assert answer.status_code == 200, answer.text
            assert answer.headers["x-model-version"] == v2
            ids.append(answer.headers["x-request-id"])
        _wait_for_log(log_root, name, len(rows))
        _monitor_and_roll_back(live_server, client, name, v1, v2, rows, ids, tmp_path)
        # the scoring server follows the rollback (its poll, or a webhook, calls check())
        assert app.state.serving.follower.check() is True
        record = rows.drop(columns=["target"]).iloc[[0]].to_dict("records")
        answer = scoring.post("/invocations", json={"dataframe_records": record})
        assert answer.headers["x-model-version"] == v1


def _wait_for_log(root: Path, name: str, rows: int) -> None:
    deadline = time.monotonic() + 20
    while len(read_inference_log(root, name)) < rows:
        assert time.monotonic() < deadline, "the inference log was not flushed"
        time.sleep(0.05)


def _monitor_and_roll_back(
    live_server: str,
    client: Client,
    name: str,
    v1: str,
    v2: str,
    rows: pd.DataFrame,
    ids: list[str],
    tmp_path: Path,
) -> None:
    log_root = tmp_path / "inference-log"
    labels = pd.DataFrame({"request_id": ids, "label": rows["target"]})

    policy = parse_policy(
        {
            "model": name,
            "alias": "production",
            "tracking_uri": live_server,
            "inference_log": str(log_root),
            "state_dir": str(tmp_path / "monitoring"),
            "alerts": [
                {"name": "f1-drop", "metric": "f1", "below": 0.8, "min_labels": 50,
                 "actions": ["rollback"]},
            ],
            "actions": {"rollback": {"type": "rollback"}},
        }
    )  # fmt: skip
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)  # the serving hour is closed
    monitor = policy_monitor(policy, clock=lambda: later, tracking_uri=live_server)
    monitor.labels.ingest(labels)
    context = ActionContext(client, default_alias="production")

    summary = run_once(policy, monitor, context)

    assert summary["versions"] == [v2]
    assert [(a["action"], a["status"]) for a in summary["actions"]] == [("rollback", "done")]
    assert client.get_model_version_by_alias(name, "production").version == v1
    events = [e for e in client.audit_events(name) if e.action.startswith("monitor.")]
    assert [e.action for e in events] == ["monitor.alert", "monitor.action"]
    evidence = events[0].details["evidence"]
    assert isinstance(evidence, list) and evidence[-1]["value"] == 0.0
    assert events[1].details["result"] == {
        "alias": "production", "from_version": v2, "to_version": v1,
    }  # fmt: skip
    # drift was computed against version 2's reference profile from the registry
    windows = monitor.windows(name, v2, later - dt.timedelta(hours=3), later)
    assert any(w["drift"] is not None for w in windows)

    again = run_once(policy, monitor, context)  # version 1 serves now: no second rollback
    assert again["actions"] == []
    assert client.get_model_version_by_alias(name, "production").version == v1
