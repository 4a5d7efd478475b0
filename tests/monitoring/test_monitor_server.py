"""The monitoring routes mounted on a FastAPI app: labels in, report JSON out, 4xx on bad input."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
from _monitor_data import START, log_frame, write_parts
from fastapi import FastAPI
from fastapi.testclient import TestClient

from shipyard.server._errors import install_error_handlers
from shipyard.server._monitoring import PREFIX, monitoring_router

HOUR = dt.timedelta(hours=1)


def _client(log_root: Path, tmp_path: Path) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(monitoring_router(str(log_root), tmp_path / "mon", str(tmp_path / "t")))
    return TestClient(app)


def test_labels_and_report(cancer: pd.DataFrame, log_root: Path, tmp_path: Path) -> None:
    rows = cancer.head(100)
    frame = log_frame(rows.drop(columns=["target"]), START, predictions=rows["target"].to_numpy())
    write_parts(log_root, frame)
    client = _client(log_root, tmp_path)
    pairs = zip(frame["request_id"], rows["target"], strict=True)
    labels = [{"request_id": r, "label": int(y)} for r, y in pairs]
    stored = client.post(f"{PREFIX}/labels", json={"labels": labels})
    assert stored.status_code == 200, stored.text
    assert stored.json() == {"stored": 100}
    params = {"model": "cancer", "since": START.isoformat(), "until": (START + HOUR).isoformat()}
    report = client.get(f"{PREFIX}/report", params=params)
    assert report.status_code == 200, report.text
    (section,) = report.json()["versions"]
    (window,) = section["windows"]
    assert window["rows"] == 100
    assert window["performance"]["metrics"]["accuracy"] == 1.0
    assert section["reference"] is None  # model not in this registry: operations and labels only
    assert client.get(f"{PREFIX}/incidents", params={"model": "cancer"}).json() == {"incidents": []}


def test_bad_requests_are_4xx(log_root: Path, tmp_path: Path) -> None:
    client = _client(log_root, tmp_path)
    missing = client.get(f"{PREFIX}/report", params={"since": START.isoformat()})
    assert missing.status_code == 400
    assert "model" in missing.json()["message"]
    bad_time = client.get(f"{PREFIX}/report", params={"model": "m", "since": "yesterday-ish"})
    assert bad_time.status_code == 400
    assert "ISO 8601" in bad_time.json()["message"]
    bad_body = client.post(f"{PREFIX}/labels", json={"labels": [{"label": 1}]})
    assert bad_body.status_code == 400
    mixed = client.post(
        f"{PREFIX}/labels",
        json={"labels": [{"request_id": "a", "label": 1}, {"request_id": "b", "label": "cat"}]},
    )
    assert mixed.json() == {"stored": 2}
