"""Starting the server: schema checks, artifact roots, workers, and TCP_NODELAY."""

from __future__ import annotations

import gc
import http.client
import json
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shipyard.server._protocol import set_nodelay
from shipyard.server._run import (
    PROXY_ARTIFACT_ROOT,
    absolute_root,
    tracking_artifact_root,
    tune_gc,
)
from shipyard.settings import Settings


def test_artifact_roots() -> None:
    assert tracking_artifact_root(Settings(serve_artifacts=True)) == PROXY_ARTIFACT_ROOT
    assert tracking_artifact_root(Settings(serve_artifacts=False, artifact_root="/a")) == "/a"
    assert absolute_root("s3://bucket/x") == "s3://bucket/x"
    assert Path(absolute_root("rel/dir")).is_absolute()


def test_foreign_database_stops_startup_with_a_clear_message(tmp_path: Path) -> None:
    db = tmp_path / "foreign.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE experiments (experiment_id INTEGER PRIMARY KEY)")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "shipyard.server",
            "--port",
            "1",
            f"--backend-store-uri=sqlite:///{db}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "no Shipyard schema version" in done.stderr


class _FakeTransport:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def get_extra_info(self, name: str) -> Any:
        return self.sock if name == "socket" else None


def test_set_nodelay_on_an_accepted_socket() -> None:
    # proto=0, like the listening socket uvicorn binds for several workers
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        with socket.create_connection(listener.getsockname()) as _client:
            accepted, _ = listener.accept()
            with accepted:
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
                set_nodelay(_FakeTransport(accepted))  # type: ignore[arg-type]
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def _post(conn: http.client.HTTPConnection, path: str, body: Any) -> Any:
    conn.request(
        "POST", f"/api/2.0/mlflow/{path}", json.dumps(body), {"Content-Type": "application/json"}
    )
    response = conn.getresponse()
    data = response.read()
    assert response.status == 200, data
    return json.loads(data)


@pytest.mark.slow
def test_two_workers_answer_small_requests_without_the_delayed_ack_floor(
    server_factory: Callable[..., Any],
) -> None:
    server = server_factory(workers=2)
    conn = http.client.HTTPConnection("127.0.0.1", server.port)
    run_id = _post(conn, "runs/create", {"experiment_id": "0"})["run"]["info"]["run_id"]
    took = []
    for i in range(60):
        start = time.perf_counter()
        _post(conn, "runs/log-metric", {"run_id": run_id, "key": "m", "value": i, "timestamp": i})
        took.append(time.perf_counter() - start)
    # Without TCP_NODELAY each answer waits for the peer's delayed ACK: ~40 ms on Linux.
    assert statistics.median(took) < 0.02


def test_no_serve_artifacts_hands_out_the_real_folder(
    server_factory: Callable[..., Any], tmp_path: Path
) -> None:
    server = server_factory(tmp_path / "plain", serve_artifacts=False)
    conn = http.client.HTTPConnection("127.0.0.1", server.port)
    exp_id = _post(conn, "experiments/create", {"name": "plain"})["experiment_id"]
    conn.request("GET", f"/api/2.0/mlflow/experiments/get?experiment_id={exp_id}")
    location = json.loads(conn.getresponse().read())["experiment"]["artifact_location"]
    assert location == str((tmp_path / "plain" / "artifacts" / exp_id).resolve())
    # the proxy is off: an upload through it is refused and writes nothing
    conn.request("PUT", "/api/2.0/mlflow-artifacts/artifacts/1/x/artifacts/a.txt", body=b"hi")
    response = conn.getresponse()
    body = json.loads(response.read())
    assert response.status == 503 and body["error_code"] == "TEMPORARILY_UNAVAILABLE"
    assert "--no-serve-artifacts" in body["message"]
    assert not list((tmp_path / "plain" / "artifacts").rglob("a.txt"))


def test_tune_gc_freezes_start_up_objects_and_raises_the_threshold() -> None:
    before = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_threshold() == (10_000, 50, 50)
        assert gc.get_freeze_count() > 10_000  # the modules and objects imported so far
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_a_workers_store_holds_as_many_bodies_as_the_setting_allows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shipyard.server import _run

    class NoCheckpoints:  # (no thread left running on the test's file)
        def __init__(self, engine: object) -> None:
            pass

        def start(self) -> None:
            pass

    monkeypatch.setattr(_run, "WalCheckpointer", NoCheckpoints)
    settings = Settings(backend_store_uri=f"sqlite:///{tmp_path / 't.db'}", kept_bodies_mb=3)
    service = _run._open_service(settings)
    try:
        assert service.store._held.max_bytes == 3 << 20  # type: ignore[attr-defined]
    finally:
        service.store.engine.dispose()  # type: ignore[attr-defined]
