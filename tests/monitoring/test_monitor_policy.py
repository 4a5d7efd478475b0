"""Policies: validation that names the field, alerts on the latest windows, and actions that
run once per incident (a recording fake stands in for the registry)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from _monitor_data import START, log_frame, write_parts

from shipyard.errors import InvalidParameter
from shipyard.models import build_profile
from shipyard.monitoring import (
    ActionContext,
    Monitor,
    Reference,
    load_policy,
    parse_policy,
    run_once,
)

HOUR = dt.timedelta(hours=1)


@dataclass
class _Version:
    version: str


@dataclass
class FakeRegistry:
    """Records what the monitor asks of the registry; rollback goes to the previous version."""

    aliases: dict[str, str] = field(default_factory=lambda: {"production": "2"})
    history: dict[str, list[str]] = field(default_factory=lambda: {"production": ["1", "2"]})
    events: list[dict[str, Any]] = field(default_factory=list)
    rollbacks: list[tuple[str, str, str | None]] = field(default_factory=list)

    def get_model_version_by_alias(self, name: str, alias: str) -> _Version:
        return _Version(self.aliases[alias])

    def rollback_alias(self, name: str, alias: str, reason: str | None = None) -> _Version:
        self.history[alias].pop()
        self.aliases[alias] = self.history[alias][-1]
        self.rollbacks.append((name, alias, reason))
        return _Version(self.aliases[alias])

    def record_registry_event(
        self,
        name: str,
        action: str,
        details: dict[str, Any],
        reason: str | None = None,
        version: str | None = None,
    ) -> None:
        self.events.append(
            {"model": name, "action": action, "details": details, "reason": reason,
             "version": version}
        )  # fmt: skip


class Hook:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(204)


def _policy(tmp_path: Path, log_root: Path, **overrides: Any) -> Any:
    data: dict[str, Any] = {
        "model": "cancer",
        "alias": "production",
        "inference_log": str(log_root),
        "state_dir": str(tmp_path / "mon"),
        "alerts": [
            {
                "name": "f1-drop",
                "metric": "f1",
                "below": 0.8,
                "min_labels": 50,
                "actions": ["notify", "rollback", "retrain"],
            }
        ],
        "actions": {
            "notify": {"type": "webhook", "url": "https://hooks.test/ml", "secret_env": "HOOK"},
            "rollback": {"type": "rollback"},
            "retrain": {
                "type": "command",
                "command": [
                    sys.executable,
                    "-c",
                    "import os, pathlib; pathlib.Path(os.environ['OUT']).write_text("
                    "os.environ['SHIPYARD_MONITOR_ALERT'] + ' ' + "
                    "os.environ['SHIPYARD_MONITOR_VERSION'])",
                ],
            },
        },
    }
    data.update(overrides)
    return parse_policy(data)


@pytest.fixture
def falling_f1(cancer: pd.DataFrame, log_root: Path, tmp_path: Path) -> Monitor:
    """Version 2 served 6 hours; labels say it was right for 3 hours, then wrong."""
    features = cancer.drop(columns=["target"])
    reference = Reference.from_profile(build_profile(features))
    frames, labels = [], []
    for hour in range(6):
        rows = cancer.sample(100, random_state=hour).reset_index(drop=True)
        frame = log_frame(
            rows.drop(columns=["target"]),
            START + hour * HOUR,
            version="2",
            predictions=rows["target"].to_numpy(),
        )
        truth = rows["target"] if hour < 3 else 1 - rows["target"]
        frames.append(frame)
        labels.append(pd.DataFrame({"request_id": frame["request_id"], "label": truth}))
    write_parts(log_root, pd.concat(frames, ignore_index=True))
    monitor = Monitor(log_root, tmp_path / "mon", reference, clock=lambda: START + 6 * HOUR)
    monitor.labels.ingest(pd.concat(labels, ignore_index=True))
    return monitor


def test_falling_f1_rolls_back_once_with_audit_trail(
    falling_f1: Monitor, tmp_path: Path, log_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OUT", str(tmp_path / "retrained.txt"))
    monkeypatch.setenv("HOOK", "s3cret")
    policy = _policy(tmp_path, log_root)
    registry, hook = FakeRegistry(), Hook()
    context = ActionContext(
        registry, httpx.Client(transport=httpx.MockTransport(hook)), default_alias="production"
    )

    first = run_once(policy, falling_f1, context)

    assert first["versions"] == ["2"]
    assert len(first["opened"]) == 1
    assert [(a["action"], a["status"]) for a in first["actions"]] == [
        ("notify", "done"),
        ("rollback", "done"),
        ("retrain", "done"),
    ]
    assert registry.aliases["production"] == "1"
    assert registry.rollbacks[0][:2] == ("cancer", "production")
    assert "f1 < 0.8" in (registry.rollbacks[0][2] or "")
    assert (tmp_path / "retrained.txt").read_text() == "f1-drop 2"
    # the webhook got the evidence, signed
    (request,) = hook.requests
    body = request.content
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert request.headers["X-Shipyard-Signature"] == f"sha256={expected}"
    evidence = json.loads(body)["incident"]["evidence"]
    assert [e["value"] for e in evidence] == [0.0, 0.0, 0.0]
    # the audit trail: one alert with its evidence, one entry per action
    actions = [e["action"] for e in registry.events]
    assert actions == ["monitor.alert"] + ["monitor.action"] * 3
    alert = registry.events[0]
    assert alert["version"] == "2"
    assert alert["details"]["condition"] == "f1 < 0.8"
    assert alert["details"]["evidence"][-1]["value"] == 0.0
    assert registry.events[2]["details"]["result"] == {
        "alias": "production",
        "from_version": "2",
        "to_version": "1",
    }

    second = run_once(policy, falling_f1, context)  # now version 1 serves: nothing to do again
    assert second["versions"] == ["1"]
    assert second["opened"] == [] and second["actions"] == []
    assert second["closed"] == first["opened"]
    assert len(registry.rollbacks) == 1
    assert len(hook.requests) == 1


def test_one_incident_acts_once_while_it_keeps_firing(
    falling_f1: Monitor, tmp_path: Path, log_root: Path
) -> None:
    policy = _policy(
        tmp_path,
        log_root,
        alias=None,
        alerts=[{"name": "f1-drop", "metric": "f1", "below": 0.8, "actions": ["notify"]}],
        actions={"notify": {"type": "webhook", "url": "https://hooks.test/ml"}},
    )
    hook = Hook()
    context = ActionContext(None, httpx.Client(transport=httpx.MockTransport(hook)))
    runs = [run_once(policy, falling_f1, context) for _ in range(3)]
    assert [len(r["opened"]) for r in runs] == [1, 0, 0]
    assert all(r["alerts"][0]["firing"] for r in runs)
    assert len(hook.requests) == 1
    state = json.loads((tmp_path / "mon" / "incidents" / "cancer.json").read_text())
    (incident,) = state["incidents"]
    assert incident["closed_at"] is None
    assert incident["actions"]["notify"]["status"] == "done"


def test_a_failed_action_is_retried_then_given_up(
    falling_f1: Monitor, tmp_path: Path, log_root: Path
) -> None:
    policy = _policy(
        tmp_path,
        log_root,
        alias=None,
        alerts=[{"name": "f1-drop", "metric": "f1", "below": 0.8, "actions": ["notify"]}],
        actions={"notify": {"type": "webhook", "url": "https://hooks.test/ml"}},
    )
    calls = []

    def down(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(503)

    context = ActionContext(None, httpx.Client(transport=httpx.MockTransport(down)))
    results = [run_once(policy, falling_f1, context)["actions"] for _ in range(4)]
    assert [len(r) for r in results] == [1, 1, 1, 0]
    assert results[0][0]["status"] == "failed"
    assert "HTTP 503" in results[0][0]["error"]
    assert len(calls) == 3


def test_drift_for_n_windows(cancer: pd.DataFrame, log_root: Path, tmp_path: Path) -> None:
    features = cancer.drop(columns=["target"])
    reference = Reference.from_profile(build_profile(features))
    frames = []
    for hour in range(6):
        rows = features.sample(2000, replace=True, random_state=hour).reset_index(drop=True)
        if hour >= 4:
            rows["mean radius"] += 2 * features["mean radius"].std()
        frames.append(log_frame(rows, START + hour * HOUR))
    write_parts(log_root, pd.concat(frames, ignore_index=True))
    alert = {"name": "drift", "metric": "drift_share", "above": 0.0, "for_windows": 3}
    policy = _policy(tmp_path, log_root, alias=None, alerts=[alert], actions={})

    def evaluate(at: dt.datetime) -> bool:
        monitor = Monitor(log_root, tmp_path / "mon", reference, clock=lambda: at)
        return bool(run_once(policy, monitor, ActionContext(None))["alerts"][0]["firing"])

    assert evaluate(START + 6 * HOUR) is False  # two drifted windows so far
    frames = [log_frame(features.sample(2000, replace=True, random_state=9), START + 6 * HOUR)]
    frames[0]["in.mean radius"] += 2 * features["mean radius"].std()
    write_parts(log_root, frames[0])
    assert evaluate(START + 7 * HOUR) is True


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"alerts": [{"name": "a", "metric": "f1"}]}, "alerts.0: give exactly one"),
        ({"alerts": [{"name": "a", "metric": "f2", "below": 1}]}, "alerts.0.metric"),
        ({"alerts": [{"name": "a", "metric": "f1", "below": 1, "actions": ["x"]}]}, "'x' is not"),
        ({"actions": {"x": {"type": "webhook", "url": "ftp://h"}}}, "actions.x.webhook.url"),
        ({"alias": None, "actions": {"x": {"type": "rollback"}}}, "actions.x.alias"),
        ({"drift": {"drift_share": 2}}, "drift.drift_share"),
        ({"window": "10 rows"}, "window: policies run on"),
        ({"lookback": 3}, "lookback: Extra inputs"),
    ],
)
def test_bad_policy_names_the_field(change: dict[str, Any], message: str) -> None:
    data = {"model": "m", "alias": "production", **change}
    with pytest.raises(InvalidParameter, match=r"monitor\.yaml: ") as caught:
        parse_policy(data)
    assert message in str(caught.value)


def test_policy_file_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "monitor.yaml").write_text("model: m\ninference_log: logs\nstate_dir: state\n")
    policy = load_policy(tmp_path / "monitor.yaml")
    assert policy.inference_log == str(tmp_path / "logs")
    assert policy.state_dir == str(tmp_path / "state")
    (tmp_path / "bad.yaml").write_text("model: [unclosed\n")
    with pytest.raises(InvalidParameter, match="not valid YAML"):
        load_policy(tmp_path / "bad.yaml")


def test_an_alert_removed_from_the_policy_closes_its_incident(
    falling_f1: Monitor, tmp_path: Path, log_root: Path
) -> None:
    alert = {"name": "f1-drop", "metric": "f1", "below": 0.8}
    policy = _policy(tmp_path, log_root, alias=None, alerts=[alert], actions={})
    opened = run_once(policy, falling_f1, ActionContext(None))["opened"]
    assert len(opened) == 1
    edited = _policy(tmp_path, log_root, alias=None, alerts=[], actions={})
    assert run_once(edited, falling_f1, ActionContext(None))["closed"] == opened
