"""The official ``mlflow`` 3.17 client logs, finds and loads an sklearn model through a live
Shipyard server (artifacts proxied as ``mlflow-artifacts:/``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import mlflow.pyfunc
import mlflow.sklearn
import numpy as np
import pytest
from mlflow.entities import LoggedModelStatus
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")


@pytest.fixture
def client(live_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[MlflowClient]:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", live_server)
    mlflow.set_tracking_uri(live_server)
    yield MlflowClient(live_server)
    while mlflow.active_run() is not None:
        mlflow.end_run("KILLED")


@pytest.fixture(scope="module")
def iris() -> tuple[Any, Any, LogisticRegression]:
    x, y = load_iris(return_X_y=True)
    return x, y, LogisticRegression(max_iter=500).fit(x, y)


def test_sklearn_log_model_search_and_load(
    client: MlflowClient, iris: tuple[Any, Any, LogisticRegression], tmp_path: Path
) -> None:
    x, _, model = iris
    exp = mlflow.set_experiment(f"lm-{uuid.uuid4().hex[:8]}")
    with mlflow.start_run() as run:
        mlflow.log_params({"C": 1.0, "max_iter": 500})
        mlflow.log_metric("train_acc", 0.97)
        info = mlflow.sklearn.log_model(model, name="model", input_example=x[:3])
    run_id, model_id = run.info.run_id, info.model_id

    logged = client.get_logged_model(model_id)
    assert logged.status == LoggedModelStatus.READY
    assert (logged.name, logged.source_run_id, logged.experiment_id) == (
        "model",
        run_id,
        exp.experiment_id,
    )
    assert logged.artifact_location == (
        f"mlflow-artifacts:/{exp.experiment_id}/models/{model_id}/artifacts"
    )
    assert logged.params == {"C": "1.0", "max_iter": "500"}
    # log_model re-logs the run's metrics at its step with the model's id: they land on the model.
    assert [(m.key, m.value, m.model_id) for m in logged.metrics] == [("train_acc", 0.97, model_id)]
    outputs = client.get_run(run_id).outputs.model_outputs
    assert [(o.model_id, o.step) for o in outputs] == [(model_id, 0)]

    found = mlflow.search_logged_models(
        experiment_ids=[exp.experiment_id],
        filter_string=f"name = 'model' AND source_run_id = '{run_id}' AND metrics.train_acc > 0.9",
        output_format="list",
    )
    assert [m.model_id for m in found] == [model_id]
    files = {f.path for f in client.list_logged_model_artifacts(model_id)}
    assert {"MLmodel", "model.skops", "requirements.txt", "input_example.json"} <= files

    expected = model.predict(x)
    by_id = mlflow.pyfunc.load_model(f"models:/{model_id}")
    by_run = mlflow.pyfunc.load_model(f"runs:/{run_id}/model")
    np.testing.assert_array_equal(by_id.predict(x), expected)
    np.testing.assert_array_equal(by_run.predict(x), expected)
    local = mlflow.artifacts.download_artifacts(f"runs:/{run_id}/model", dst_path=str(tmp_path))
    assert (Path(local) / "MLmodel").is_file()


def test_client_lifecycle_tags_params_and_delete(client: MlflowClient) -> None:
    exp_id = client.create_experiment(f"lm-api-{uuid.uuid4().hex[:8]}")
    model = client.create_logged_model(
        exp_id, name="agent", model_type="agent", tags={"team": "ml"}, params={"k": "v"}
    )
    assert model.status == LoggedModelStatus.PENDING and model.model_type == "agent"
    client.set_logged_model_tags(model.model_id, {"stage": "dev", "a/b": "1"})
    client.delete_logged_model_tag(model.model_id, "team")
    client.log_model_params(model.model_id, {f"p{i}": str(i) for i in range(250)})
    client.finalize_logged_model(model.model_id, LoggedModelStatus.FAILED)
    got = client.get_logged_model(model.model_id)
    assert got.tags == {"stage": "dev", "a/b": "1"}
    assert len(got.params) == 251 and got.status == LoggedModelStatus.FAILED

    page = client.search_logged_models(
        [exp_id], filter_string="model_type = 'agent'", order_by=[{"field_name": "name"}]
    )
    assert [m.model_id for m in page] == [model.model_id] and page.token is None

    client.delete_logged_model(model.model_id)
    with pytest.raises(MlflowException) as excinfo:
        client.get_logged_model(model.model_id)
    assert excinfo.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    rest_store = client._tracking_client.store  # the public client has no allow_deleted
    assert rest_store.get_logged_model(model.model_id, allow_deleted=True).model_id == (
        model.model_id
    )
    assert list(client.search_logged_models([exp_id])) == []


def test_missing_model_is_resource_does_not_exist(client: MlflowClient) -> None:
    with pytest.raises(MlflowException) as excinfo:
        client.get_logged_model("m-" + "0" * 32)
    assert excinfo.value.error_code == "RESOURCE_DOES_NOT_EXIST"
