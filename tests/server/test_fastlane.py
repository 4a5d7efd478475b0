"""The fast lane answers exactly as the router does, and only for what it was given.

``application/vnd.mlflow+json`` is JSON to FastAPI but not to the lane, so the same body sent
with it takes the router: comparing the two answers compares the two paths.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.types import Receive, Scope, Send

from shipyard.server import create_app
from shipyard.server._fastlane import FastLane, lane_routes
from shipyard.server._http import MAX_BODY_BYTES
from shipyard.server._runs import router as runs_router
from shipyard.settings import Settings
from shipyard.store.sql import SqlStore
from shipyard.tracking import TrackingService

API = "/api/2.0/mlflow"
LANE = {"content-type": "application/json"}
ROUTER = {"content-type": "application/vnd.mlflow+json"}


@pytest.fixture(params=["sqlite", "postgres"])
def service(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TrackingService]:
    """SQLite (quick writes inline on the loop) and PostgreSQL (awaited on the loop)."""
    if request.param == "sqlite":
        uri = f"sqlite:///{tmp_path / 'tracking.db'}"
    else:
        uri = request.getfixturevalue("postgres_uri")
    store = SqlStore(uri, str(tmp_path / "artifacts"))
    yield TrackingService(store)
    store.dispose()


@pytest.fixture
def client(service: TrackingService, tmp_path: Path) -> TestClient:
    settings = Settings(artifact_root=str(tmp_path / "artifacts"))
    return TestClient(create_app(settings, service, extra_routers=()))


def _quick_mode(app: Any) -> str:
    (lane,) = [m for m in app.user_middleware if m.cls is FastLane]
    return str(lane.kwargs["quick_mode"])


def test_quick_writes_run_on_the_loop_when_the_store_allows(
    service: TrackingService, tmp_path: Path
) -> None:
    sqlite = service.store.engine.dialect.name == "sqlite"  # type: ignore[attr-defined]
    settings = Settings(
        backend_store_uri="sqlite:///x.db" if sqlite else "postgresql://elsewhere/db",
        artifact_root=str(tmp_path / "artifacts"),
    )
    app = create_app(settings, service, extra_routers=())
    assert _quick_mode(app) == ("inline" if sqlite else "loop")
    with TestClient(app) as client:  # one event loop for all the requests
        run_id = _run(client)
        for step in range(3):
            body = {"run_id": run_id, "key": "m", "value": step, "timestamp": 1, "step": step}
            assert client.post(f"{API}/runs/log-metric", json=body).status_code == 200
    assert [m.step for m in service.get_metric_history(run_id, "m").items] == [0, 1, 2]
    if not sqlite:  # the writes went through the store's loop engine
        loop_engine = service.store._loop_engine  # type: ignore[attr-defined]
        assert loop_engine.engine.pool.checkedin() == 1


def test_quick_writes_take_the_thread_hop_when_the_store_cannot_wait_on_the_loop(
    service: TrackingService, tmp_path: Path
) -> None:
    class Plain:  # the same service, saying its store cannot
        loop_io = False

        def __getattr__(self, name: str) -> Any:
            return getattr(service, name)

    settings = Settings(backend_store_uri="postgresql://elsewhere/db")
    app = create_app(settings, Plain(), extra_routers=())  # type: ignore[arg-type]
    assert _quick_mode(app) == "thread"
    run_id = _run(TestClient(app))
    assert service.get_run(run_id).info.status == "RUNNING"


def _run(client: TestClient) -> str:
    exp = client.post(f"{API}/experiments/create", json={"name": "lane"}).json()["experiment_id"]
    run = client.post(f"{API}/runs/create", json={"experiment_id": exp}).json()
    return str(run["run"]["info"]["run_id"])


def _both(client: TestClient, path: str, body: bytes) -> tuple[Any, Any]:
    answers = []
    for headers in (LANE, ROUTER):
        r = client.post(f"{API}/{path}", content=body, headers=headers)
        answers.append((r.status_code, r.headers["content-type"], r.json()))
    return answers[0], answers[1]


BAD_BODIES = [
    ("runs/log-metric", b""),
    ("runs/log-metric", b"{not json"),
    ("runs/log-metric", b"[1, 2]"),
    ("runs/log-metric", b'"text"'),
    ("runs/log-metric", b'{"run_id": "RUN", "value": 1, "timestamp": 1}'),
    ("runs/log-metric", b'{"run_id": "RUN", "key": "k", "value": "x", "timestamp": 1}'),
    ("runs/log-metric", b'{"run_id": "RUN", "key": "k", "value": 1, "timestamp": 1.5}'),
    ("runs/log-metric", b'{"run_id": "nope", "key": "k", "value": 1, "timestamp": 1}'),
    ("runs/log-batch", b'{"run_id": "RUN", "metrics": [{"key": "k"}]}'),
    ("runs/log-parameter", b'{"run_id": "RUN", "key": "", "value": "v"}'),
    ("runs/update", b'{"run_id": "RUN", "status": "SLEEPING"}'),
    ("runs/create", b'{"experiment_id": "12345678901234567890"}'),
    ("runs/search", b'{"experiment_ids": ["0"], "filter": "metrics.x >"}'),
    ("runs/search", b'{"experiment_ids": ["0"], "max_results": -1}'),
]


@pytest.mark.parametrize(("path", "body"), BAD_BODIES)
def test_bad_input_gets_the_same_answer_on_both_paths(
    client: TestClient, path: str, body: bytes
) -> None:
    body = body.replace(b"RUN", _run(client).encode())
    lane, router = _both(client, path, body)
    assert lane == router
    assert 400 <= lane[0] < 500 and set(lane[2]) == {"error_code", "message"}


def test_good_input_gets_the_same_answer_on_both_paths(client: TestClient) -> None:
    run_id = _run(client)
    body = f'{{"run_id": "{run_id}", "key": "m", "value": NaN, "timestamp": 1, "step": 2}}'
    assert _both(client, "runs/log-metric", body.encode()) == (
        (200, "application/json", {}),
        (200, "application/json", {}),
    )
    run = client.get(f"{API}/runs/get", params={"run_id": run_id}).json()["run"]
    assert run["data"]["metrics"] == [{"key": "m", "value": "NaN", "timestamp": 1, "step": 2}]
    search = f'{{"experiment_ids": ["{run["info"]["experiment_id"]}"]}}'.encode()
    lane, router = _both(client, "runs/search", search)
    assert lane == router and lane[2]["runs"][0]["info"]["run_id"] == run_id


def test_an_oversized_body_is_refused_before_it_is_parsed(client: TestClient) -> None:
    huge = b'{"run_id": "' + b"x" * (MAX_BODY_BYTES + 1) + b'"}'
    response = client.post(f"{API}/runs/log-metric", content=huge, headers=LANE)
    assert response.status_code == 413


def test_lane_table_holds_body_routes_under_every_prefix() -> None:
    table = lane_routes(["/a", "/b"], [runs_router])
    assert {"/a/runs/log-metric", "/b/runs/log-metric", "/a/runs/search"} <= set(table)
    assert table["/a/runs/log-metric"].quick and table["/a/runs/search"].quick
    assert not table["/a/runs/log-inputs"].quick
    assert not any(path.endswith("/runs/get") for path in table)  # a GET with query params


def test_only_tracking_store_routes_are_quick() -> None:
    """A quick route may run on the event loop, where only the tracking store's round trips
    are awaited: one reaching the registry's store would hold the loop on each of them."""
    from shipyard.server import _registry
    from shipyard.server.app import _TRACKING_ROUTERS

    table = lane_routes([API], [*_TRACKING_ROUTERS, _registry.router])
    quick = {path.removeprefix(API) for path, route in table.items() if route.quick}
    assert {"/runs/log-metric", "/runs/log-batch", "/runs/create", "/runs/search"} <= quick
    assert {r.endpoint.__module__ for r in table.values() if r.quick} == {"shipyard.server._runs"}


async def _must_not_be_called(scope: Scope, receive: Receive, send: Send) -> None:
    raise AssertionError(f"the router was asked for {scope['path']}")


def test_the_lane_answers_without_the_router(tmp_store: TrackingService) -> None:
    class State:
        store = tmp_store

    lane = FastLane(
        _must_not_be_called,
        lane_routes([API], [runs_router]),
        max_body=MAX_BODY_BYTES,
        quick_mode="inline",
    )

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = type("App", (), {"state": State})()
        await lane(scope, receive, send)

    client = TestClient(app)
    run_id = tmp_store.create_run("0", "", 1, [], None).info.run_id
    body = {"run_id": run_id, "key": "k", "value": 2.5, "timestamp": 1, "step": 0}
    assert client.post(f"{API}/runs/log-metric", json=body).status_code == 200
    assert tmp_store.get_run(run_id).data.metrics[0].value == 2.5
    with pytest.raises(AssertionError, match="router was asked"):
        client.post(f"{API}/runs/log-metric", content=b"{}", headers=ROUTER)
