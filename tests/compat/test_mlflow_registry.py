"""The official ``mlflow`` 3.17 client's registry calls against a real Shipyard server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import mlflow
import numpy as np
import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import shipyard

pytestmark = pytest.mark.filterwarnings(
    "ignore::UserWarning", "ignore::FutureWarning", "ignore::DeprecationWarning"
)


@pytest.fixture
def client(live_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[MlflowClient]:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", live_server)
    mlflow.set_tracking_uri(live_server)
    yield MlflowClient(live_server)
    while mlflow.active_run() is not None:
        mlflow.end_run("KILLED")


def _code(excinfo: pytest.ExceptionInfo[MlflowException]) -> str:
    return str(excinfo.value.error_code)


def _iris() -> tuple[LogisticRegression, np.ndarray]:
    features, labels = load_iris(return_X_y=True)
    return LogisticRegression(max_iter=300).fit(features, labels), features


def test_log_model_registers_and_loads_by_alias(client: MlflowClient) -> None:
    name = f"iris-{uuid.uuid4().hex[:8]}"
    model, features = _iris()
    mlflow.set_experiment(f"registry-{uuid.uuid4().hex[:8]}")
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(
            model, name="model", registered_model_name=name, input_example=features[:2]
        )
    assert str(info.registered_model_version) == "1"
    version = client.get_model_version(name, "1")
    assert (version.status, version.run_id) == ("READY", run.info.run_id)
    assert version.source.startswith("models:/m-")
    second = mlflow.register_model(f"runs:/{run.info.run_id}/model", name)
    assert second.version == "2"

    client.set_registered_model_alias(name, "champion", "2")
    assert client.get_model_version_by_alias(name, "champion").version == "2"
    assert client.get_registered_model(name).aliases == {"champion": "2"}
    loaded = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    np.testing.assert_array_equal(loaded.predict(features[:5]), model.predict(features[:5]))
    by_number = mlflow.pyfunc.load_model(f"models:/{name}/1")
    np.testing.assert_array_equal(by_number.predict(features[:5]), model.predict(features[:5]))
    ours = shipyard.pyfunc.load_model(f"models:/{name}@champion", tracking_uri=client.tracking_uri)
    np.testing.assert_array_equal(ours.predict(features[:5]), loaded.predict(features[:5]))
    uri = client.get_model_version_download_uri(name, "1")
    assert uri.startswith("mlflow-artifacts:/") and "/models/m-" in uri


def test_registry_crud_and_error_codes(client: MlflowClient) -> None:
    name = f"crud-{uuid.uuid4().hex[:8]}"
    client.create_registered_model(name, tags={"team": "risk"}, description="first")
    with pytest.raises(MlflowException) as exists:
        client.create_registered_model(name)
    assert _code(exists) == "RESOURCE_ALREADY_EXISTS"
    with pytest.raises(MlflowException) as missing:
        client.get_registered_model(f"{name}-absent")
    assert _code(missing) == "RESOURCE_DOES_NOT_EXIST"

    run = client.create_run(client.get_experiment_by_name("Default").experiment_id)
    source = f"runs:/{run.info.run_id}/model"
    for _ in range(3):
        client.create_model_version(name, source, run_id=run.info.run_id)
    client.update_registered_model(name, description="second")
    client.update_model_version(name, "1", description="v1")
    client.set_registered_model_tag(name, "k", "v")
    client.set_model_version_tag(name, "1", "validated", "yes")
    model = client.get_registered_model(name)
    assert (model.description, model.tags) == ("second", {"team": "risk", "k": "v"})
    assert client.get_model_version(name, "1").tags == {"validated": "yes"}
    client.delete_model_version_tag(name, "1", "validated")
    client.delete_registered_model_tag(name, "k")
    assert client.get_model_version(name, "1").tags == {}

    client.transition_model_version_stage(name, "1", "Production")
    client.transition_model_version_stage(name, "2", "Production", archive_existing_versions=True)
    assert client.get_model_version(name, "1").current_stage == "Archived"
    latest = {v.current_stage: v.version for v in client.get_latest_versions(name)}
    assert latest == {"Archived": "1", "Production": "2", "None": "3"}

    with pytest.raises(MlflowException) as unknown_alias:
        client.get_model_version_by_alias(name, "nope")
    assert _code(unknown_alias) == "INVALID_PARAMETER_VALUE"
    client.delete_registered_model_alias(name, "nope")  # absent alias: no error

    found = client.search_registered_models(filter_string=f"name = '{name}'")
    assert [m.name for m in found] == [name]
    versions = client.search_model_versions(f"name = '{name}'")
    assert sorted(v.version for v in versions) == ["1", "2", "3"]

    client.delete_model_version(name, "3")
    client.rename_registered_model(name, f"{name}-renamed")
    assert client.get_model_version(f"{name}-renamed", "2").current_stage == "Production"
    client.delete_registered_model(f"{name}-renamed")
    with pytest.raises(MlflowException) as gone:
        client.get_registered_model(f"{name}-renamed")
    assert _code(gone) == "RESOURCE_DOES_NOT_EXIST"


@pytest.mark.parametrize(
    "source",
    [
        "/etc/passwd",
        "file:///etc/passwd",
        "mlflow-artifacts:/../../etc/passwd",
        "mlflow-artifacts:/1/%2e%2e/%2e%2e/etc",
        "http://evil.example/model",
        "s3://someone-elses-bucket/model",
        "runs:/0123456789abcdef/../../etc",
        "models:/m-00000000000000000000000000000000",
        "mlflow-artifacts:/1/x#/../../etc",
    ],
)
def test_sources_outside_the_server_are_refused(client: MlflowClient, source: str) -> None:
    name = f"hostile-{uuid.uuid4().hex[:8]}"
    client.create_registered_model(name)
    with pytest.raises(MlflowException) as refused:
        client.create_model_version(name, source)
    assert _code(refused) == "INVALID_PARAMETER_VALUE"
    assert "Invalid model version source" in str(refused.value)
    assert client.search_model_versions(f"name = '{name}'") == []
