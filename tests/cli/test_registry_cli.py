"""``shipyard models ...``, ``audit ...`` and ``webhooks ...`` on a local store."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

import shipyard
from shipyard.cli import app
from shipyard.settings import Settings

runner = CliRunner()


def _invoke(*args: str, user: str = "alice") -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"SHIPYARD_USER": user})
    return result.exit_code, result.output


@pytest.fixture
def store(tmp_path: Path) -> str:
    """A folder store with model ``churn`` at versions 1-3 from one run."""
    uri = str(tmp_path / "data")
    client = shipyard.Client(uri, Settings.from_env({"SHIPYARD_USER": "alice"}))
    run = client.create_run("0", tags={"mlflow.source.git.commit": "feedbee"})
    client.log_param(run.info.run_id, "depth", 4)
    for _ in range(3):
        code, out = _invoke(
            "models", "register", f"runs:/{run.info.run_id}/model", "--name", "churn",
            "--reason", "nightly", "-t", uri,
        )  # fmt: skip
        assert code == 0, out
    return uri


def test_list_show_versions(store: str) -> None:
    code, out = _invoke("models", "list", "-t", store)
    assert code == 0 and "churn" in out and "v3 (None)" in out
    code, out = _invoke("models", "versions", "churn", "--json", "-t", store)
    assert code == 0
    assert [v["version"] for v in json.loads(out)] == ["3", "2", "1"]
    code, out = _invoke("models", "show", "churn", "-t", store)
    assert code == 0 and "created" in out and "alice" in out


def test_alias_moves_are_audited_with_reason_and_roll_back(store: str) -> None:
    for version in ("1", "2", "3"):
        code, out = _invoke(
            "models", "alias", "churn", "production", version, "--reason", f"ship v{version}",
            "-t", store,
        )  # fmt: skip
        assert code == 0 and f"version {version}" in out
    code, out = _invoke("models", "rollback", "churn", "--reason", "F1 fell", "-t", store)
    assert code == 0 and "version 3 → version 2" in out
    code, out = _invoke("models", "rollback", "churn", "-t", store)
    assert code == 0 and "version 2 → version 1" in out
    code, out = _invoke("models", "rollback", "churn", "-t", store)
    assert code == 1 and "nothing to roll back" in out
    code, out = _invoke("audit", "log", "--model", "churn", "--json", "-t", store)
    events = [json.loads(line) for line in out.splitlines()]
    moves = [(e["action"], e["after"], e["reason"]) for e in events if e["alias"]]
    assert moves == [
        ("alias.set", "1", "ship v1"),
        ("alias.set", "2", "ship v2"),
        ("alias.set", "3", "ship v3"),
        ("alias.rollback", "2", "F1 fell"),
        ("alias.rollback", "1", None),
    ]
    code, out = _invoke("audit", "verify", "-t", store)
    assert code == 0 and "intact" in out


def test_protected_alias_request_approve_reject(store: str) -> None:
    _invoke("models", "alias", "churn", "production", "1", "-t", store)
    code, out = _invoke("models", "protect", "churn", "production", "-t", store)
    assert code == 0 and "protected" in out
    code, out = _invoke("models", "alias", "churn", "production", "2", "-r", "better", "-t", store)
    assert code == 0 and "filed request" in out
    request_id = out.split("request ")[1].split(":")[0]
    code, out = _invoke("models", "approve", request_id, "-t", store)
    assert code == 1 and "second person" in out
    code, out = _invoke("models", "approve", request_id, "-c", "ok", "-t", store, user="bob")
    assert code == 0 and "churn@production → version 2" in out
    code, out = _invoke("models", "requests", "churn", "-t", store)
    assert "APPROVED" in out and "bob" in out
    client = shipyard.Client(store)
    assert client.get_model_version_by_alias("churn", "production").version == "2"


def test_lineage_prints_run_code_and_json(store: str) -> None:
    code, out = _invoke("models", "lineage", "models:/churn/2", "-t", store)
    assert code == 0 and "feedbee" in out and "param depth = 4" in out
    code, out = _invoke("models", "lineage", "models:/churn/2", "--json", "-t", store)
    doc = json.loads(out)
    assert (doc["version"], doc["code"]["git_commit"], doc["run"]["params"]) == (
        "2",
        "feedbee",
        {"depth": "4"},
    )
    code, out = _invoke("models", "lineage", "runs:/x/y", "-t", store)
    assert code == 1 and "models:/<name>/<version>" in out


def test_audit_verify_fails_naming_the_tampered_event(store: str) -> None:
    with sqlite3.connect(Path(store) / "shipyard.db") as db:
        tamper = "UPDATE audit_events SET body = replace(body, 'nightly', 'weekly') WHERE seq = 3"
        db.execute(tamper)
    code, out = _invoke("audit", "verify", "-t", store)
    assert code == 1 and "event 3" in out and "altered" in out


def test_webhook_to_loopback_is_refused_by_default(store: str) -> None:
    code, out = _invoke("webhooks", "add", "http://127.0.0.1:9/hook", "-t", store)
    assert code == 1 and "loopback" in out and "SHIPYARD_WEBHOOKS_ALLOW_PRIVATE" in out
    code, out = _invoke("webhooks", "add", "ftp://example.com/x", "-t", store)
    assert code == 1 and "http(s)" in out
