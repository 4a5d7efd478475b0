"""``POST /api/2.0/shipyard/gates/run`` on a real server (``create_app`` served by uvicorn in a
thread, in this process: the gate calls back into the same server)."""

from __future__ import annotations

import base64
import io
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
from _gate_models import Bundle
from starlette.types import ASGIApp

import shipyard
import shipyard.sklearn
from shipyard.models import load_model
from shipyard.server import _gates
from shipyard.server.app import create_app
from shipyard.settings import Settings
from shipyard.store.sql import SqlStore
from shipyard.tracking import TrackingService

POLICY = """\
promote_to: production
label: target
checks:
  - {type: metric, metric: f1, min: 0.95}
  - {type: schema}
"""


@pytest.fixture
def server(tmp_path: Path, serve: Callable[[ASGIApp], str]) -> Iterator[str]:
    settings = Settings(
        backend_store_uri=f"sqlite:///{tmp_path / 'db.sqlite'}", artifact_root=str(tmp_path / "art")
    )
    app = create_app(
        settings, TrackingService(SqlStore(settings.backend_store_uri, "mlflow-artifacts:/"))
    )
    url = serve(app)
    shipyard.set_tracking_uri(url)
    try:
        yield url
    finally:
        shipyard.set_tracking_uri(None)


def _parquet(frame: pd.DataFrame) -> str:
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    return base64.b64encode(buffer.getvalue()).decode()


def test_the_endpoint_gates_promotes_and_audits_as_the_caller(
    server: str, bundle: Bundle, eval_data: pd.DataFrame
) -> None:
    client = shipyard.Client(server)
    name = f"cancer-{uuid.uuid4().hex[:8]}"
    client.create_registered_model(name)
    folder = bundle.models["logistic"]
    example = pd.read_json(folder / "input_example.json", orient="split")
    with shipyard.start_run() as run:
        info = shipyard.sklearn.log_model(
            load_model(folder).unwrap(), "model", input_example=example
        )
    version = client.create_model_version(name, info.model_uri, run_id=run.run_id).version
    body = {
        "model_uri": f"models:/{name}/{version}", "policy": POLICY,
        "data_parquet_base64": _parquet(eval_data), "promote": True, "reason": "from CI",
    }  # fmt: skip
    answer = httpx.post(
        f"{server}{_gates.PREFIX}/run",
        json=body,
        headers={"X-Shipyard-User": "ci-bot"},
        timeout=120,
    )
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["passed"] is True and report["promoted"] is True
    assert [c["passed"] for c in report["checks"]] == [True, True]
    assert client.get_model_version_by_alias(name, "production").version == version
    (event,) = [e for e in client.audit_events(name) if e.action == "gate.decision"]
    assert (event.actor, event.reason, event.details["passed"]) == ("ci-bot", "from CI", True)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model_uri": "/etc/models/x"}, "must be a registered version"),
        ({"policy": POLICY + "data: /etc/passwd\n"}, "cannot name `data`"),
        ({"policy": POLICY + "  - {type: vulnerabilities, database: /etc}\n"}, "OSV databases"),
        (
            {"policy": "promote_to: p\nchecks: []\n"},
            "line 2: checks: List should have at least 1 item",
        ),
        ({"data_csv": "a,b\n1,2\n"}, "data_parquet_base64 or data_csv"),
    ],
)
def test_requests_that_would_read_server_files_or_are_bad_are_400(
    server: str, eval_data: pd.DataFrame, change: dict[str, str], message: str
) -> None:
    body = {
        "model_uri": "models:/m/1",
        "policy": POLICY,
        "data_parquet_base64": _parquet(eval_data.head(5)),
    }
    answer = httpx.post(f"{server}{_gates.PREFIX}/run", json={**body, **change}, timeout=60)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert message in answer.json()["message"]
