"""The registry through a real server: Shipyard's SDK over HTTP (actors, reasons, approvals,
rollback, audit), MLflow routes refusing protected moves, and signed, retried webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

import shipyard
from shipyard.errors import ApprovalRequired, InvalidParameter, PermissionDenied
from shipyard.settings import Settings


def _client(url: str, user: str) -> shipyard.Client:
    return shipyard.Client(url, Settings.from_env({"SHIPYARD_USER": user}))


def _model(client: shipyard.Client, name: str, versions: int) -> None:
    run = client.create_run("0")
    client.create_registered_model(name)
    for _ in range(versions):
        client.create_model_version(name, f"runs:/{run.info.run_id}/model", run.info.run_id)


def test_sdk_over_http_records_actor_and_reason(live_server: str) -> None:
    alice, bob = _client(live_server, "alice"), _client(live_server, "bob")
    _model(alice, "http-governed", 3)
    alice.set_registered_model_alias("http-governed", "production", "1", reason="launch ü")
    alice.protect_alias("http-governed", "production", reason="guard prod")
    with pytest.raises(ApprovalRequired, match="protected"):
        alice.set_registered_model_alias("http-governed", "production", "2")
    moved = alice.move_alias("http-governed", "production", "2", reason="better recall")
    assert moved.request is not None and moved.request.requested_by == "alice"
    with pytest.raises(PermissionDenied):
        alice.approve(moved.request.id)
    approved = bob.approve(moved.request.id, "checked the gate report")
    assert approved.status == "APPROVED" and approved.decided_by == "bob"
    assert alice.get_model_version_by_alias("http-governed", "production").version == "2"
    back = bob.rollback_alias("http-governed", "production", reason="latency regression")
    assert back.version == "1"
    events = alice.audit_events("http-governed")
    first_move = next(e for e in events if e.action == "alias.set")
    assert (first_move.actor, first_move.reason) == ("alice", "launch ü")
    last = events[-1]
    assert (last.action, last.actor, last.before, last.after, last.reason) == (
        "alias.rollback",
        "bob",
        "2",
        "1",
        "latency regression",
    )
    event = alice.record_registry_event(
        "http-governed", "gate.decision", {"passed": False}, reason="F1 within noise", version=3
    )
    assert event.seq == alice.audit_events()[-1].seq and alice.verify_audit().ok


def test_mlflow_alias_route_refuses_a_protected_alias(live_server: str) -> None:
    client = _client(live_server, "carol")
    _model(client, "http-protected", 2)
    client.protect_alias("http-protected", "production")
    response = httpx.post(
        f"{live_server}/api/2.0/mlflow/registered-models/alias",
        json={"name": "http-protected", "alias": "production", "version": "2"},
        auth=("dave", "secret"),
    )
    assert response.status_code == 403
    assert response.json()["error_code"] == "PERMISSION_DENIED"
    # the basic-auth user is the declared actor of an allowed change
    httpx.post(
        f"{live_server}/api/2.0/mlflow/registered-models/alias",
        json={"name": "http-protected", "alias": "staging", "version": "2"},
        auth=("dave", "secret"),
    ).raise_for_status()
    assert client.audit_events("http-protected")[-1].actor == "dave"


class _Receiver:
    """A loopback HTTP endpoint that records requests; the first ``fail_first`` get a 500."""

    def __init__(self, fail_first: int = 0) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.fail_first = fail_first
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append((dict(self.headers), body))
                status = 500 if len(outer.received) <= outer.fail_first else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def receiver() -> Iterator[Callable[[int], _Receiver]]:
    made: list[_Receiver] = []

    def make(fail_first: int = 0) -> _Receiver:
        made.append(_Receiver(fail_first))
        return made[-1]

    yield make
    for r in made:
        r.close()


def _wait(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_webhooks_are_signed_retried_and_recorded(
    server_factory: Callable[..., Any], receiver: Callable[[int], _Receiver], tmp_path: Path
) -> None:
    server = server_factory(tmp_path / "hooks", env={"SHIPYARD_WEBHOOKS_ALLOW_PRIVATE": "true"})
    client = _client(server.url, "erin")
    flaky = receiver(1)
    hook = client.create_webhook(flaky.url, events=["alias.*"], secret="s3cret")
    _model(client, "hooked", 2)
    client.set_registered_model_alias("hooked", "production", "2", reason="go")
    _wait(lambda: len(flaky.received) >= 2)  # one 500, then a retry that succeeds
    headers, body = flaky.received[-1]
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers["X-Shipyard-Signature"] == expected
    payload = json.loads(body)["event"]
    assert (payload["action"], payload["model"], payload["alias"], payload["after"]) == (
        "alias.set",
        "hooked",
        "production",
        "2",
    )
    assert payload["actor"] == "erin" and payload["reason"] == "go"
    _wait(lambda: client.list_webhook_deliveries(hook.id)[0].status == "DELIVERED")
    delivery = client.list_webhook_deliveries(hook.id)[0]
    assert (delivery.attempts, delivery.last_status_code) == (2, 200)
    # only alias events were subscribed: creating versions sent nothing else
    assert {json.loads(b)["event"]["action"] for _, b in flaky.received} == {"alias.set"}


def test_webhook_urls_cannot_target_the_server_by_default(live_server: str) -> None:
    client = _client(live_server, "frank")
    for url in ("http://127.0.0.1:5000/api/2.0/mlflow/x", "http://localhost/x", "http://10.0.0.1/"):
        with pytest.raises(InvalidParameter, match="loopback, private or link-local"):
            client.create_webhook(url)
    with pytest.raises(InvalidParameter, match="credentials"):
        client.create_webhook("http://user:pw@example.com/")
