"""What ``create_app`` mounts: the registry, governance and gate routes with a SQL store, and the
monitoring routes only when the server is given an inference log."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from shipyard.server.app import create_app
from shipyard.settings import Settings
from shipyard.store.sql import SqlStore
from shipyard.tracking import TrackingService


def _app(tmp_path: Path, **settings: object) -> TestClient:
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    service = TrackingService(SqlStore(db, str(tmp_path / "art")))
    config = Settings(backend_store_uri=db, artifact_root=str(tmp_path / "art"), **settings)  # type: ignore[arg-type]
    return TestClient(create_app(config, service))


def test_monitoring_routes_need_an_inference_log(tmp_path: Path) -> None:
    with _app(tmp_path) as plain:
        assert plain.get("/api/2.0/shipyard/monitoring/incidents").status_code == 404
        assert plain.get("/api/2.0/shipyard/registry/audit/verify").status_code == 200
        gate = plain.post("/api/2.0/shipyard/gates/run", json={})
        assert gate.status_code == 400  # mounted: the empty body is refused, not unrouted
    log = tmp_path / "log"
    log.mkdir()
    with _app(tmp_path, inference_log=str(log), monitoring_dir=str(tmp_path / "mon")) as served:
        answer = served.get("/api/2.0/shipyard/monitoring/incidents", params={"model": "churn"})
        assert answer.status_code == 200 and "incidents" in answer.json()


def test_settings_round_trip_the_monitoring_locations(tmp_path: Path) -> None:
    settings = Settings(inference_log="s3://logs/prod", monitoring_dir=str(tmp_path))
    again = Settings.from_env(settings.to_env())
    assert (again.inference_log, again.monitoring_dir) == ("s3://logs/prod", str(tmp_path))
    assert Settings.from_env({}).inference_log is None


def test_registry_routes_answer_bad_numbers_and_bodies_with_400(tmp_path: Path) -> None:
    with _app(tmp_path) as app:
        events = app.get("/api/2.0/shipyard/registry/audit/events", params={"after_seq": 2**70})
        version = app.get(
            "/api/2.0/mlflow/model-versions/get", params={"name": "x", "version": str(2**70)}
        )
        garbled = app.request(
            "DELETE", "/api/2.0/mlflow/registered-models/delete", content=b"{not json"
        )
        assert [r.status_code for r in (events, version, garbled)] == [400, 400, 400]
        assert "positive integer" in version.json()["message"]
        assert garbled.json()["message"] == "The request body is not valid JSON."
