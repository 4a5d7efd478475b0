"""End to end with a live registry: ``shipyard models serve -m models:/name@prod`` in its own
process follows the alias when it moves (told by a signed registry webhook), under concurrent
load, with no failed request and every answer naming the version that made it."""

from __future__ import annotations

import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from _serving_models import free_port, iris_frame, start
from sklearn.linear_model import LogisticRegression

import shipyard
import shipyard.sklearn
from shipyard import Client


def register_constant(client: Client, name: str, constant: int) -> str:
    """A version that answers ``constant`` for (almost) every row, to tell versions apart."""
    data, target = iris_frame()
    labels = np.full_like(target, constant)
    labels[0] = (constant + 1) % 3
    model = LogisticRegression(max_iter=500).fit(data, labels)
    with shipyard.start_run() as run:
        info = shipyard.sklearn.log_model(model, "model", input_example=data.head(2))
    return str(client.create_model_version(name, info.model_uri, run_id=run.info.run_id).version)


@pytest.mark.slow
def test_alias_move_reaches_the_scoring_server_by_webhook_with_no_failed_request(
    server_factory: Callable[..., object], tmp_path: Path
) -> None:
    tracking = server_factory(env={"SHIPYARD_WEBHOOKS_ALLOW_PRIVATE": "true"})
    url = tracking.url  # type: ignore[attr-defined]
    shipyard.set_tracking_uri(url)
    client = Client(url)
    name = f"iris-{uuid.uuid4().hex[:8]}"
    client.create_registered_model(name)
    v1, v2 = register_constant(client, name, 0), register_constant(client, name, 2)
    client.set_registered_model_alias(name, "prod", v1)

    port = free_port()
    secret = tmp_path / "secret"
    secret.write_text("hook-secret\n")
    client.create_webhook(f"http://127.0.0.1:{port}/-/registry-webhook", model_name=name,
                          secret="hook-secret")  # fmt: skip
    cmd = [sys.executable, "-m", "shipyard.cli", "models", "serve", "-m", f"models:/{name}@prod",
           "--tracking-uri", url, "--port", str(port), "--poll-interval", "3600",
           "--webhook-secret-file", str(secret)]  # fmt: skip
    scoring = start(cmd, port)
    row = {"dataframe_records": iris_frame()[0].iloc[[60]].to_dict("records")}
    # (sent, received, status, version, body); four clients, so answers arrive out of send order
    answers: list[tuple[float, float, int, str, object]] = []
    stop = threading.Event()

    def hammer() -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            while not stop.is_set():
                sent = time.monotonic()
                r = http.post("/invocations", json=row)
                version = r.headers.get("x-model-version", "?")
                answers.append((sent, time.monotonic(), r.status_code, version, r.json()))

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    try:
        for thread in threads:
            thread.start()
        time.sleep(1.0)
        moved_at = time.monotonic()
        client.set_registered_model_alias(name, "prod", v2, reason="v2 is better")
        deadline = moved_at + 30
        while time.monotonic() < deadline and not (answers and answers[-1][3] == v2):
            time.sleep(0.05)
        time.sleep(0.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        scoring.send_signal(signal.SIGTERM)
        scoring.wait(timeout=30)
    assert {status for _, _, status, _, _ in answers} == {200}
    versions = [version for _, _, _, version, _ in answers]
    assert versions[0] == v1 and versions[-1] == v2
    first_v2 = min(received for _, received, _, version, _ in answers if version == v2)
    # once a v2 answer has come back, every request sent after it is answered by v2
    assert {version for sent, _, _, version, _ in answers if sent > first_v2} == {v2}
    assert {v: body["predictions"] for _, _, _, v, body in answers} == {v1: [0], v2: [2]}
    assert first_v2 - moved_at < 25  # the webhook, not the hour-long poll
    print(f"{len(answers)} requests, swap seen {first_v2 - moved_at:.2f}s after the move")
    assert len(pd.unique(pd.Series(versions))) == 2
