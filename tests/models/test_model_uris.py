"""Model URIs: runs:/ through a server's proxy, mlflow-artifacts:, s3://, file:, models:/."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from _flavor_cases import iris_estimator

import shipyard
import shipyard.pyfunc
import shipyard.sklearn
from shipyard import artifacts
from shipyard.errors import InvalidModel, InvalidParameter, NotFound
from shipyard.models import download_model
from shipyard.settings import Settings


@pytest.fixture
def on_server(live_server: str) -> Iterator[str]:
    shipyard.set_tracking_uri(live_server)
    yield live_server
    shipyard.set_tracking_uri(None)


def test_runs_uri_through_a_tracking_servers_proxy(on_server: str, tmp_path: Path) -> None:
    estimator, features = iris_estimator()
    with shipyard.start_run() as run:
        info = shipyard.sklearn.log_model(estimator, "iris", input_example=features[:2])
    assert info.artifact_uri.startswith("mlflow-artifacts:")
    for uri in (f"runs:/{run.run_id}/iris", info.artifact_uri):
        loaded = shipyard.pyfunc.load_model(uri)
        np.testing.assert_array_equal(loaded.predict(features), estimator.predict(features))
    native = shipyard.sklearn.load_model(info.model_uri)
    np.testing.assert_array_equal(native.predict(features), estimator.predict(features))
    folder = download_model(info.model_uri, tmp_path / "copy", Settings.from_env())
    assert (folder / "MLmodel").is_file() and (folder / "model.skops").is_file()


def test_a_missing_model_under_a_run(on_server: str) -> None:
    with shipyard.start_run() as run:
        pass
    with pytest.raises(InvalidModel, match="no model package"):
        shipyard.pyfunc.load_model(f"runs:/{run.run_id}/nothing-here")


def test_mlflow_artifacts_uri_needs_a_tracking_server(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameter, match="tracking server"):
        shipyard.pyfunc.load_model(
            "mlflow-artifacts:/0/abc/artifacts/model", tracking_uri=str(tmp_path)
        )


def test_s3_uri(moto_server: object, tmp_path: Path) -> None:
    estimator, features = iris_estimator()
    shipyard.sklearn.save_model(estimator, tmp_path / "m")
    bucket = moto_server.new_bucket()  # type: ignore[attr-defined]
    s3 = moto_server.settings  # type: ignore[attr-defined]
    artifacts.upload_directory(None, f"s3://{bucket}/models/iris", tmp_path / "m", s3=s3)
    settings = replace(Settings.from_env(), s3=s3)
    loaded = shipyard.pyfunc.load_model(f"s3://{bucket}/models/iris", settings=settings)
    np.testing.assert_array_equal(loaded.predict(features), estimator.predict(features))


def test_file_uri_and_plain_path(tmp_path: Path) -> None:
    estimator, features = iris_estimator()
    shipyard.sklearn.save_model(estimator, tmp_path / "m")
    for uri in (f"file://{tmp_path / 'm'}", str(tmp_path / "m"), tmp_path / "m"):
        assert shipyard.pyfunc.load_model(uri).predict(features[:1]).shape == (1,)


@pytest.mark.parametrize(
    "uri", ["models:/churn/3", "models:/churn@production", "models:/churn/latest"]
)
def test_registry_uris_of_an_unknown_model_name_it(uri: str, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="churn"):
        shipyard.pyfunc.load_model(uri, tracking_uri=str(tmp_path))


def test_registry_uris_load_the_version_they_name(tmp_path: Path) -> None:
    estimator, features = iris_estimator()
    client = shipyard.Client(str(tmp_path / "t"))
    client.create_registered_model("iris")
    uuids = {}
    for version in ("1", "2"):
        logged = client.store.create_logged_model("0", "iris")
        shipyard.sklearn.save_model(estimator, tmp_path / logged.model_id)
        artifacts.upload_directory(None, logged.artifact_uri, tmp_path / logged.model_id)
        client.create_model_version("iris", f"models:/{logged.model_id}", model_id=logged.model_id)
        uuids[version] = shipyard.pyfunc.load_model(tmp_path / logged.model_id).metadata.model_uuid
    client.set_registered_model_alias("iris", "champion", "1")
    client.transition_model_version_stage("iris", "2", "Staging")
    expected = {
        "models:/iris/1": "1",
        "models:/iris@champion": "1",
        "models:/iris/latest": "2",
        "models:/iris/staging": "2",
    }
    for uri, version in expected.items():
        loaded = shipyard.pyfunc.load_model(uri, tracking_uri=client.tracking_uri)
        assert loaded.metadata.model_uuid == uuids[version], uri
        np.testing.assert_array_equal(loaded.predict(features), estimator.predict(features))
    with pytest.raises(NotFound, match="Production"):
        shipyard.pyfunc.load_model("models:/iris/Production", tracking_uri=client.tracking_uri)


def test_unknown_logged_model_ids_are_not_found(tmp_path: Path, live_server: str) -> None:
    for tracking in (str(tmp_path), live_server):
        with pytest.raises(NotFound):
            shipyard.pyfunc.load_model("models:/m-0123456789abcdef", tracking_uri=tracking)


def test_logged_model_ids_in_a_local_store(tmp_path: Path) -> None:
    estimator, features = iris_estimator()
    client = shipyard.Client(str(tmp_path / "t"))
    logged = client.store.create_logged_model("0", "iris")
    shipyard.sklearn.save_model(estimator, tmp_path / "m")
    artifacts.upload_directory(None, logged.artifact_uri, tmp_path / "m")
    loaded = shipyard.pyfunc.load_model(
        f"models:/{logged.model_id}", tracking_uri=str(tmp_path / "t")
    )
    np.testing.assert_array_equal(loaded.predict(features), estimator.predict(features))


@pytest.mark.parametrize("uri", ["runs:/", "runs:/../x/model", "runs:/a b/model"])
def test_malformed_runs_uris(uri: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidParameter):
        shipyard.pyfunc.load_model(uri, tracking_uri=str(tmp_path))


def test_run_uri_paths_cannot_escape_the_run(tmp_path: Path) -> None:
    client = shipyard.Client(str(tmp_path / "t"))
    run = client.create_run("0")
    with pytest.raises(InvalidParameter, match=r"\.\."):
        shipyard.pyfunc.load_model(
            f"runs:/{run.info.run_id}/../../x", tracking_uri=str(tmp_path / "t")
        )


def test_download_refuses_a_non_empty_destination(tmp_path: Path) -> None:
    estimator, _ = iris_estimator()
    shipyard.sklearn.save_model(estimator, tmp_path / "m")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "file").write_text("x")
    with pytest.raises(InvalidParameter, match="not an empty folder"):
        download_model(tmp_path / "m", tmp_path / "busy", Settings.from_env())
    copy = download_model(tmp_path / "m", tmp_path / "copy", Settings.from_env())
    assert sorted(p.name for p in copy.iterdir()) == sorted(
        p.name for p in (tmp_path / "m").iterdir()
    )


def test_save_refuses_to_overwrite(tmp_path: Path) -> None:
    estimator, _ = iris_estimator()
    shipyard.sklearn.save_model(estimator, tmp_path / "m")
    with pytest.raises(InvalidParameter, match="already exists"):
        shipyard.sklearn.save_model(estimator, tmp_path / "m")
