"""Following a registry alias: swaps between real saved models, with no failed request."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from _serving_models import save_iris
from fastapi.testclient import TestClient

from shipyard.serving import DictResolver, ServingConfig, build_app, parse_model_uri


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("versions")
    return {"1": save_iris(root / "v1", constant=0), "2": save_iris(root / "v2", constant=2)}


def one_row(rows: pd.DataFrame) -> dict[str, object]:
    return {"dataframe_records": rows.iloc[[50]].to_dict("records")}


def test_uris_that_follow_and_uris_that_do_not() -> None:
    assert parse_model_uri("models:/fraud@production").alias == "production"
    fixed = parse_model_uri("models:/fraud/3")
    assert (fixed.name, fixed.version, fixed.alias) == ("fraud", "3", None)
    assert parse_model_uri("/tmp/models/iris/").name == "iris"


def test_alias_move_swaps_version_without_failing_requests(
    versions: dict[str, Path], iris_rows: pd.DataFrame
) -> None:
    resolver = DictResolver({("iris", "prod"): ("1", str(versions["1"]))})
    config = ServingConfig("models:/iris@prod", poll_interval=3600)
    app = build_app(config, resolver=resolver)
    follower = app.state.serving.follower
    # (sent, received, status, version, predictions): with four clients, answers arrive out of
    # the order their requests were sent in
    answers: list[tuple[float, float, int, str, list[int]]] = []
    stop = threading.Event()
    with TestClient(app) as client:

        def hammer() -> None:
            while not stop.is_set():
                sent = time.monotonic()
                r = client.post("/invocations", json=one_row(iris_rows))
                version, predictions = r.headers["x-model-version"], r.json()["predictions"]
                answers.append((sent, time.monotonic(), r.status_code, version, predictions))

        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.2)
        resolver.set("iris", "prod", "2", str(versions["2"]))
        assert follower.check() is True
        time.sleep(0.2)
        stop.set()
        for t in threads:
            t.join()
        assert client.get("/v2/models/iris").json()["versions"] == ["2"]
        metrics = client.get("/metrics").text
    assert {status for _, _, status, _, _ in answers} == {200}
    by_version = {version: preds for _, _, _, version, preds in answers}
    assert by_version == {"1": [0], "2": [2]}  # each answer came from the version it names
    first_two = min(received for _, received, _, v, _ in answers if v == "2")
    # no flapping back: every request sent after a v2 answer came back is answered by v2
    assert {v for sent, _, _, v, _ in answers if sent > first_two} == {"2"}
    assert 'shipyard_serving_model_info{name="iris",version="2"} 1.0' in metrics
    assert 'version="1"' not in metrics.split("shipyard_serving_model_info")[-1]
    assert "shipyard_serving_model_swaps_total 1.0" in metrics


def test_a_version_that_fails_to_load_is_not_swapped_in(
    versions: dict[str, Path], iris_rows: pd.DataFrame, tmp_path: Path
) -> None:
    resolver = DictResolver({("iris", "prod"): ("1", str(versions["1"]))})
    app = build_app(ServingConfig("models:/iris@prod", poll_interval=3600), resolver=resolver)
    with TestClient(app) as client:
        resolver.set("iris", "prod", "3", str(tmp_path / "no-such-model"))
        assert app.state.serving.follower.check() is False
        answer = client.post("/invocations", json=one_row(iris_rows))
        assert (answer.status_code, answer.headers["x-model-version"]) == (200, "1")
        assert "shipyard_serving_model_load_failures_total 1.0" in client.get("/metrics").text


def test_a_signed_webhook_triggers_an_immediate_check(
    versions: dict[str, Path], iris_rows: pd.DataFrame
) -> None:
    resolver = DictResolver({("iris", "prod"): ("1", str(versions["1"]))})
    config = ServingConfig("models:/iris@prod", poll_interval=3600, webhook_secret="k")
    with TestClient(build_app(config, resolver=resolver)) as client:
        resolver.set("iris", "prod", "2", str(versions["2"]))
        body = b'{"event": {"action": "alias.set", "model": "iris", "alias": "prod"}}'
        signature = "sha256=" + hmac.new(b"k", body, hashlib.sha256).hexdigest()
        hook = client.post(
            "/-/registry-webhook", content=body, headers={"X-Shipyard-Signature": signature}
        )
        assert hook.status_code == 202
        deadline = time.monotonic() + 20
        version = "1"
        while version != "2" and time.monotonic() < deadline:
            time.sleep(0.05)
            version = client.post("/invocations", json=one_row(iris_rows)).headers[
                "x-model-version"
            ]
        assert version == "2"


def test_polling_notices_a_move(versions: dict[str, Path], iris_rows: pd.DataFrame) -> None:
    resolver = DictResolver({("iris", "prod"): ("1", str(versions["1"]))})
    config = ServingConfig("models:/iris@prod", poll_interval=0.05)
    with TestClient(build_app(config, resolver=resolver)) as client:
        resolver.set("iris", "prod", "2", str(versions["2"]))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if client.get("/v2/models/iris").json()["versions"] == ["2"]:
                break
            time.sleep(0.05)
        assert client.get("/v2/models/iris").json()["versions"] == ["2"]
