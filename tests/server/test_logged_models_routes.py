"""The ``logged-models`` routes: MLflow 3's request shapes in, its JSON and error bodies out;
and the SDK's RestStore speaking them to a served app."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import DataError

from shipyard.client._rest import RestStore
from shipyard.entities import DatasetRef, LoggedModelOrderBy, Metric, Param, Tag
from shipyard.errors import InvalidParameter, LoggedModelNotFound, NotFound
from shipyard.server import create_app
from shipyard.settings import Settings
from shipyard.store.sql import SqlStore
from shipyard.tracking import TrackingService

API = "/api/2.0/mlflow"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "artifacts"


@pytest.fixture
def app(tmp_path: Path, root: Path) -> FastAPI:
    """A server as ``shipyard server`` builds it: proxied ``mlflow-artifacts:/`` locations."""
    store = SqlStore(f"sqlite:///{tmp_path / 'db.sqlite'}", "mlflow-artifacts:/")
    return create_app(Settings(artifact_root=str(root)), TrackingService(store), extra_routers=())


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    return TestClient(app)


def call(client: TestClient, method: str, path: str, status: int = 200, **kw: Any) -> Any:
    response = client.request(method, f"{API}/{path}", **kw)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()


def create(client: TestClient, **body: Any) -> dict[str, Any]:
    model: dict[str, Any] = call(client, "POST", "logged-models", json=body)["model"]
    return model


def new_run(client: TestClient) -> tuple[str, str]:
    exp_id = call(client, "POST", "experiments/create", json={"name": "lm"})["experiment_id"]
    run = call(client, "POST", "runs/create", json={"experiment_id": exp_id})["run"]
    return exp_id, run["info"]["run_id"]


def test_create_answers_mlflows_shape(client: TestClient) -> None:
    exp_id, run_id = new_run(client)
    model = create(
        client,
        experiment_id=exp_id,
        name="model",
        model_type="sklearn",
        source_run_id=run_id,
        params=[{"key": "C", "value": "1"}],
        tags=[{"key": "mlflow.user", "value": "me"}],
    )
    info, data = model["info"], model["data"]
    model_id = info["model_id"]
    assert model_id.startswith("m-") and len(model_id) == 34
    assert info["artifact_uri"] == f"mlflow-artifacts:/{exp_id}/models/{model_id}/artifacts"
    assert info["status"] == "LOGGED_MODEL_PENDING"
    assert (info["experiment_id"], info["name"], info["model_type"]) == (exp_id, "model", "sklearn")
    assert info["source_run_id"] == run_id and info["tags"] == [
        {"key": "mlflow.user", "value": "me"}
    ]
    assert isinstance(info["creation_timestamp_ms"], int)
    assert info["last_updated_timestamp_ms"] == info["creation_timestamp_ms"]
    assert data == {"params": [{"key": "C", "value": "1"}]}
    assert call(client, "GET", f"logged-models/{model_id}") == {"model": model}
    assert client.get(f"/ajax-api/2.0/mlflow/logged-models/{model_id}").json() == {"model": model}


def test_finalize_delete_and_allow_deleted(client: TestClient) -> None:
    model_id = create(client, experiment_id="0")["info"]["model_id"]
    path = f"logged-models/{model_id}"
    ready = call(client, "PATCH", path, json={"model_id": model_id, "status": "LOGGED_MODEL_READY"})
    assert ready["model"]["info"]["status"] == "LOGGED_MODEL_READY"
    failed = call(client, "PATCH", path, json={"status": 3})
    assert failed["model"]["info"]["status"] == "LOGGED_MODEL_UPLOAD_FAILED"
    assert call(client, "DELETE", path, json={"model_id": model_id}) == {}
    gone = call(client, "GET", path, 404)
    assert gone["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    found = call(client, "GET", path, params={"allow_deleted": "true"})
    assert found["model"]["info"]["model_id"] == model_id


@pytest.mark.parametrize(
    "status", ["LOGGED_MODEL_STATUS_UNSPECIFIED", "READY", 0, 7, True, None, [], "x" * 1000]
)
def test_bad_status_is_invalid_parameter(client: TestClient, status: Any) -> None:
    model_id = create(client, experiment_id="0")["info"]["model_id"]
    error = call(client, "PATCH", f"logged-models/{model_id}", 400, json={"status": status})
    assert error["error_code"] == "INVALID_PARAMETER_VALUE"


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("PATCH", "", {"status": "LOGGED_MODEL_READY"}),
        ("DELETE", "", None),
        ("PATCH", "/tags", {"tags": [{"key": "k", "value": "v"}]}),
        ("DELETE", "/tags/k", None),
        ("POST", "/params", {"params": [{"key": "k", "value": "v"}]}),
        ("GET", "/artifacts/directories", None),
    ],
)
@pytest.mark.parametrize("model_id", ["m-" + "0" * 32, "nope", "%00", "..%2F..%2Fetc", "é" * 80])
def test_missing_models_are_404(
    client: TestClient, method: str, suffix: str, body: Any, model_id: str
) -> None:
    error = call(client, method, f"logged-models/{model_id}{suffix}", 404, json=body)
    # An id with encoded slashes matches no route at all: still a 404 in MLflow's error shape.
    assert error["error_code"] in ("RESOURCE_DOES_NOT_EXIST", "ENDPOINT_NOT_FOUND")


def test_create_errors(client: TestClient) -> None:
    assert call(client, "POST", "logged-models", 400, json={})["error_code"] == (
        "INVALID_PARAMETER_VALUE"
    )
    missing = call(client, "POST", "logged-models", 404, json={"experiment_id": "999"})
    assert missing["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    bad_name = call(
        client, "POST", "logged-models", 400, json={"experiment_id": "0", "name": "a/b"}
    )
    assert "model name" in bad_name["message"]


def test_tags_and_params(client: TestClient) -> None:
    model_id = create(client, experiment_id="0")["info"]["model_id"]
    tags = [{"key": "a/b", "value": "1"}, {"key": "c", "value": "2"}]
    assert call(client, "PATCH", f"logged-models/{model_id}/tags", json={"tags": tags}) == {}
    assert call(client, "DELETE", f"logged-models/{model_id}/tags/a/b") == {}
    missing = call(client, "DELETE", f"logged-models/{model_id}/tags/zzz", 404)
    assert missing["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    params = {"model_id": model_id, "params": [{"key": "p", "value": "1"}]}
    assert call(client, "POST", f"logged-models/{model_id}/params", json=params) == {}
    info = call(client, "GET", f"logged-models/{model_id}")["model"]
    assert info["info"]["tags"] == [{"key": "c", "value": "2"}]
    assert info["data"]["params"] == [{"key": "p", "value": "1"}]


def test_metrics_logged_with_model_id_show_on_the_model(client: TestClient) -> None:
    exp_id, run_id = new_run(client)
    model_id = create(client, experiment_id=exp_id, source_run_id=run_id)["info"]["model_id"]
    metric = {"run_id": run_id, "key": "acc", "value": 0.5, "timestamp": 10, "step": 2}
    call(client, "POST", "runs/log-metric", json={**metric, "model_id": model_id})
    batch = [{**metric, "value": 0.75, "step": 3, "model_id": model_id, "dataset_name": "val"}]
    call(client, "POST", "runs/log-batch", json={"run_id": run_id, "metrics": batch})
    metrics = call(client, "GET", f"logged-models/{model_id}")["model"]["data"]["metrics"]
    assert metrics == [
        {"key": "acc", "value": 0.5, "timestamp": 10, "step": 2, "model_id": model_id,
         "run_id": run_id},
        {"key": "acc", "value": 0.75, "timestamp": 10, "step": 3, "dataset_name": "val",
         "model_id": model_id, "run_id": run_id},
    ]  # fmt: skip
    unknown = {**metric, "model_id": "m-" + "1" * 32}
    assert call(client, "POST", "runs/log-metric", 404, json=unknown)["error_code"] == (
        "RESOURCE_DOES_NOT_EXIST"
    )


def test_search(client: TestClient) -> None:
    exp_id, run_id = new_run(client)
    ids = [
        create(client, experiment_id=exp_id, name=name, source_run_id=run_id)["info"]["model_id"]
        for name in ("a", "b", "c")
    ]
    out = call(client, "POST", "logged-models/search", json={"experiment_ids": [exp_id]})
    assert [m["info"]["model_id"] for m in out["models"]] == ids[::-1]
    assert "next_page_token" not in out
    body = {
        "experiment_ids": [exp_id],
        "filter": "name != 'b' AND status = 'PENDING'",
        "order_by": [{"field_name": "name", "ascending": True}],
        "max_results": 1,
    }
    first = call(client, "POST", "logged-models/search", json=body)
    assert [m["info"]["name"] for m in first["models"]] == ["a"]
    body["page_token"] = first["next_page_token"]
    second = call(client, "POST", "logged-models/search", json=body)
    assert [m["info"]["name"] for m in second["models"]] == ["c"]
    datasets = {"experiment_ids": [exp_id], "datasets": [{"dataset_name": "none"}]}
    assert call(client, "POST", "logged-models/search", json=datasets) == {"models": []}


@pytest.mark.parametrize(
    "body",
    [
        {"experiment_ids": ["0"], "filter": "name = "},
        {"experiment_ids": ["0"], "filter": "metrics.x = 'a'"},
        {"experiment_ids": ["0"], "order_by": [{"field_name": "tags.x"}]},
        {"experiment_ids": ["0"], "order_by": [{"ascending": False}]},
        {"experiment_ids": ["0"], "datasets": [{"dataset_digest": "d"}]},
        {"experiment_ids": ["0"], "max_results": 0},
        {"experiment_ids": ["0"], "max_results": 2**40},
        {"experiment_ids": ["0"], "page_token": "!!"},
        {"experiment_ids": "0"},
    ],
)
def test_bad_searches_are_400(client: TestClient, body: Any) -> None:
    error = call(client, "POST", "logged-models/search", 400, json=body)
    assert error["error_code"] == "INVALID_PARAMETER_VALUE"


def test_artifact_directories_list_through_the_artifact_layer(
    client: TestClient, root: Path
) -> None:
    model = create(client, experiment_id="0")["info"]
    folder = root / "0" / "models" / model["model_id"] / "artifacts"
    (folder / "sub").mkdir(parents=True)
    (folder / "MLmodel").write_text("flavors: {}\n")
    (folder / "sub" / "model.skops").write_bytes(b"12345")
    path = f"logged-models/{model['model_id']}/artifacts/directories"
    out = call(client, "GET", path)
    assert out["root_uri"] == model["artifact_uri"]
    assert sorted(out["files"], key=lambda f: f["path"]) == [
        {"path": "MLmodel", "is_dir": False, "file_size": 12},
        {"path": "sub", "is_dir": True},
    ]
    sub = call(client, "GET", path, params={"artifact_directory_path": "sub"})
    assert sub["files"] == [{"path": "sub/model.skops", "is_dir": False, "file_size": 5}]
    escape = call(client, "GET", path, 400, params={"artifact_directory_path": "../../.."})
    assert escape["error_code"] == "INVALID_PARAMETER_VALUE"


def test_rest_store_round_trip(app: FastAPI, serve: Callable[[FastAPI], str]) -> None:
    store = RestStore(serve(app), Settings())
    exp_id = store.create_experiment("rest-lm")
    run_id = store.create_run(exp_id, "me", 1).info.run_id
    params = [Param(f"p{i}", str(i)) for i in range(150)]  # more than one request's worth
    model = store.create_logged_model(exp_id, "m", run_id, [Tag("t", "1")], params, "sk")
    assert len(model.params) == 150 and model.tags == {"t": "1"} and model.model_type == "sk"
    assert store.finalize_logged_model(model.model_id, "READY").status == "READY"
    store.set_logged_model_tags(model.model_id, [Tag("a/b", "2")])
    store.delete_logged_model_tag(model.model_id, "a/b")
    store.log_logged_model_params(model.model_id, [Param("extra", "x")])
    store.log_batch(run_id, metrics=[Metric("acc", 0.5, 1, 0, model.model_id, "val", "d")])
    got = store.get_logged_model(model.model_id)
    assert got.tags == {"t": "1"} and got.params["extra"] == "x"
    assert [(m.key, m.dataset_name, m.run_id) for m in got.metrics] == [("acc", "val", run_id)]
    page = store.search_logged_models(
        [exp_id],
        "metrics.acc > 0.1",
        [DatasetRef("val", "d")],
        order_by=[LoggedModelOrderBy("metrics.acc", False, "val")],
    )
    assert [m.model_id for m in page.items] == [model.model_id]
    with pytest.raises(InvalidParameter):
        store.finalize_logged_model(model.model_id, "UNSPECIFIED")
    store.delete_logged_model(model.model_id)
    with pytest.raises(LoggedModelNotFound):
        store.get_logged_model(model.model_id)
    assert store.get_logged_model(model.model_id, allow_deleted=True).model_id == model.model_id
    with pytest.raises(NotFound):
        store.delete_logged_model_tag(model.model_id, "t")
    store.close()


def test_a_value_the_database_refuses_is_400(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL refuses NUL in text; that is the input's fault, not a server error."""
    service = client.app.state.store  # type: ignore[attr-defined]

    def refuse(*_args: object, **_kwargs: object) -> None:
        reason = Exception("PostgreSQL text fields cannot contain NUL (0x00) bytes")
        raise DataError("INSERT ...", {}, reason)

    monkeypatch.setattr(service, "create_logged_model", refuse)
    error = call(client, "POST", "logged-models", 400, json={"experiment_id": "0", "name": "a\x00"})
    assert error["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "NUL" in error["message"] and "INSERT" not in error["message"]
