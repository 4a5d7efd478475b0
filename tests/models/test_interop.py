"""MLflow interop both ways: the official client (mlflow-skinny 3.17) loads our packages, and we
load the folders it writes, with identical predictions."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _flavor_cases import custom_model, iris_estimator, wine_pipeline

import shipyard.pyfunc
import shipyard.sklearn
from shipyard.errors import UntrustedModel

mlflow_sklearn = pytest.importorskip("mlflow.sklearn")
mlflow_pyfunc = pytest.importorskip("mlflow.pyfunc")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # MLflow's advice on every save


@pytest.fixture(autouse=True)
def _quiet_mlflow(monkeypatch: pytest.MonkeyPatch) -> None:
    # MLflow 3.17 refuses every sklearn format, skops included, unless this is set.
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
    monkeypatch.delenv("SHIPYARD_TRUST_PICKLE", raising=False)


def _sklearn_models() -> list[tuple[str, Any, Any]]:
    estimator, features = iris_estimator()
    pipeline, frame = wine_pipeline()
    return [("estimator", estimator, features), ("pipeline", pipeline, frame)]


@pytest.mark.parametrize(("name", "model", "data"), _sklearn_models(), ids=lambda v: str(v)[:12])
def test_mlflow_loads_our_sklearn_packages(
    name: str, model: Any, data: Any, tmp_path: Path
) -> None:
    example = data[:3] if isinstance(data, np.ndarray) else data.head(3)
    shipyard.sklearn.save_model(model, tmp_path / "m", input_example=example)
    native = mlflow_sklearn.load_model(str(tmp_path / "m"))
    assert type(native) is type(model)
    np.testing.assert_array_equal(native.predict(data), model.predict(data))
    theirs = mlflow_pyfunc.load_model(str(tmp_path / "m"))
    ours = shipyard.pyfunc.load_model(tmp_path / "m")
    np.testing.assert_array_equal(np.asarray(theirs.predict(data)), ours.predict(data))
    assert theirs.metadata.signature.to_dict() == ours.signature.to_dict()  # type: ignore[union-attr]


def test_mlflow_loads_our_custom_models_through_shipyard_pyfunc(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, data, artifacts = custom_model(tmp_path / "artifacts")
    shipyard.pyfunc.save_model(
        tmp_path / "m", python_model=model, artifacts=artifacts, input_example=data.head(3)
    )
    with pytest.raises(UntrustedModel):  # MLflow calls our loader: our rule still holds
        mlflow_pyfunc.load_model(str(tmp_path / "m"))
    monkeypatch.setenv("SHIPYARD_TRUST_PICKLE", "true")
    theirs = mlflow_pyfunc.load_model(str(tmp_path / "m"))
    expected = model.estimator.predict(data) * 2.0  # type: ignore[attr-defined]
    np.testing.assert_allclose(np.asarray(theirs.predict(data)), expected)


@pytest.mark.parametrize(("name", "model", "data"), _sklearn_models(), ids=lambda v: str(v)[:12])
def test_we_load_mlflow_sklearn_folders_without_trust(
    name: str, model: Any, data: Any, tmp_path: Path
) -> None:
    example = data[:3] if isinstance(data, np.ndarray) else data.head(3)
    mlflow_sklearn.save_model(model, str(tmp_path / "m"), input_example=example)
    ours = shipyard.pyfunc.load_model(tmp_path / "m")  # skops + allowlist: no trust needed
    np.testing.assert_array_equal(ours.predict(data), model.predict(data))
    theirs = mlflow_pyfunc.load_model(str(tmp_path / "m"))
    np.testing.assert_array_equal(np.asarray(theirs.predict(data)), ours.predict(data))
    assert type(shipyard.sklearn.load_model(tmp_path / "m")) is type(model)


def test_we_refuse_mlflow_cloudpickle_sklearn_until_trusted(tmp_path: Path) -> None:
    estimator, features = iris_estimator()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow_sklearn.save_model(
            estimator, str(tmp_path / "m"), serialization_format="cloudpickle"
        )
    with pytest.raises(UntrustedModel, match="cloudpickle"):
        shipyard.pyfunc.load_model(tmp_path / "m")
    loaded = shipyard.pyfunc.load_model(tmp_path / "m", trusted=True)
    np.testing.assert_array_equal(loaded.predict(features), estimator.predict(features))


def test_we_load_mlflow_custom_pyfunc_models_when_trusted(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    (tmp_path / "offset.json").write_text(json.dumps({"offset": 10.0}))

    class Offset(mlflow_pyfunc.PythonModel):  # type: ignore[misc, name-defined]
        def load_context(self, context: Any) -> None:
            self.offset = json.loads(Path(context.artifacts["offset"]).read_text())["offset"]

        def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> Any:
            factor = (params or {}).get("factor", 1.0)
            return (model_input.sum(axis=1) + self.offset) * factor

    from mlflow.models import infer_signature

    signature = infer_signature(frame, params={"factor": 1.0})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow_pyfunc.save_model(
            str(tmp_path / "m"),
            python_model=Offset(),
            artifacts={"offset": str(tmp_path / "offset.json")},
            signature=signature,
        )
    with pytest.raises(UntrustedModel, match=r"python_model\.pkl"):
        shipyard.pyfunc.load_model(tmp_path / "m")
    ours = shipyard.pyfunc.load_model(tmp_path / "m", trusted=True)
    np.testing.assert_allclose(ours.predict(frame), [14.0, 16.0])
    np.testing.assert_allclose(ours.predict(frame, params={"factor": 2}), [28.0, 32.0])
    theirs = mlflow_pyfunc.load_model(str(tmp_path / "m"))
    np.testing.assert_allclose(theirs.predict(frame, params={"factor": 2}), [28.0, 32.0])


def test_mlflow_type_hint_style_predict_without_context(tmp_path: Path) -> None:
    class Doubles(mlflow_pyfunc.PythonModel):  # type: ignore[misc, name-defined]
        def predict(
            self, model_input: list[float], params: dict[str, Any] | None = None
        ) -> list[float]:
            return [2 * x for x in model_input]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow_pyfunc.save_model(str(tmp_path / "m"), python_model=Doubles())
    ours = shipyard.pyfunc.load_model(tmp_path / "m", trusted=True)
    assert ours.unwrap().predict([1.0, 2.0]) == [2.0, 4.0]


def test_a_model_the_official_client_logs_to_shipyard_server_loads_identically(
    live_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MLflow 3 logs to a logged model (models:/m-<id>); runs:/<run>/<name> finds it too."""
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", live_server)
    pipeline, frame = wine_pipeline()
    mlflow.set_tracking_uri(live_server)
    mlflow.set_experiment("models-interop")
    with mlflow.start_run() as run:
        info = mlflow_sklearn.log_model(pipeline, name="wine", input_example=frame.head(3))
    theirs = mlflow_pyfunc.load_model(info.model_uri).predict(frame)
    for uri in (info.model_uri, f"runs:/{run.info.run_id}/wine"):
        ours = shipyard.pyfunc.load_model(uri, tracking_uri=live_server)
        np.testing.assert_array_equal(ours.predict(frame), np.asarray(theirs))
        assert ours.metadata.model_id == info.model_id
