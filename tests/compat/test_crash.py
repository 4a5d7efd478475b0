"""SIGKILL the server mid-stream: every acknowledged batch survives, no batch survives in part."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

BATCH = 1000
API = "/api/2.0/mlflow"


def _call(conn: http.client.HTTPConnection, method: str, path: str, body: Any = None) -> Any:
    payload = None if body is None else json.dumps(body)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    conn.request(method, API + path, body=payload, headers=headers)
    response = conn.getresponse()
    data = response.read()
    assert response.status == 200, data
    return json.loads(data)


def _batch(run_id: str, batch_id: int) -> dict[str, Any]:
    """Batch ``n`` owns steps [n*1000, (n+1)*1000): the step says which batch a point came from."""
    first = batch_id * BATCH
    steps = range(first, first + BATCH)
    points = [{"key": "m", "value": 0.5, "timestamp": s, "step": s} for s in steps]
    return {"run_id": run_id, "metrics": points}


class Writer(threading.Thread):
    """Sends batches until the server stops answering; remembers which ones it saw a 200 for."""

    def __init__(self, port: int, run_id: str) -> None:
        super().__init__(daemon=True)
        self.port, self.run_id = port, run_id
        self.acknowledged: list[int] = []
        self.attempted = 0

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        for batch_id in range(10_000):
            self.attempted = batch_id + 1
            try:
                _call(conn, "POST", "/runs/log-batch", _batch(self.run_id, batch_id))
            except (OSError, http.client.HTTPException):
                return  # the server is gone
            self.acknowledged.append(batch_id)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_sigkill_keeps_acknowledged_batches_whole(
    server_factory: Callable[..., Any],
    tmp_path: Path,
    backend: str,
    request: pytest.FixtureRequest,
) -> None:
    """On PostgreSQL the batch in flight is one statement awaited on the server's event loop;
    the killed connection makes PostgreSQL abort it whole."""
    folder = tmp_path / "crash"
    db_uri = request.getfixturevalue("postgres_uri") if backend == "postgres" else None
    server = server_factory(folder, db_uri=db_uri)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    run_id = _call(conn, "POST", "/runs/create", {"experiment_id": "0"})["run"]["info"]["run_id"]
    writer = Writer(server.port, run_id)
    writer.start()
    deadline = time.monotonic() + 60
    while len(writer.acknowledged) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    server.kill()
    writer.join(timeout=30)
    assert len(writer.acknowledged) >= 5 and not writer.is_alive()

    again = server_factory(folder, db_uri=db_uri)  # same database, new process
    conn = http.client.HTTPConnection("127.0.0.1", again.port, timeout=30)
    history = _call(conn, "GET", f"/metrics/get-history?run_id={run_id}&metric_key=m")["metrics"]
    per_batch = Counter(point["step"] // BATCH for point in history)
    assert all(count == BATCH for count in per_batch.values()), per_batch  # never in part
    assert set(writer.acknowledged) <= set(per_batch)  # every 200 is there
    assert set(per_batch) <= set(range(writer.attempted))
