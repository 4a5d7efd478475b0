"""MLflow interop for the framework flavors (xgboost, lightgbm, pytorch, onnx): a folder written
by ``mlflow.<flavor>.save_model`` loads with ``shipyard.pyfunc.load_model``, and ours loads with
``mlflow.<flavor>.load_model`` and ``mlflow.pyfunc.load_model``, with identical predictions."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _flavor_cases import diabetes_onnx_graph, iris_torch_module
from sklearn.datasets import load_diabetes, load_iris

import shipyard.pyfunc
from shipyard.errors import UntrustedModel

pytest.importorskip("mlflow.pyfunc")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # MLflow's advice on every save


def _iris() -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    features, target = load_iris(return_X_y=True)
    return features, target


def _mlflow_save(module: Any, model: Any, path: Path, **kwargs: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # Fixed requirements skip MLflow's inference, which loads the model in a subprocess.
        module.save_model(model, str(path), pip_requirements=["mlflow"], **kwargs)


# -- xgboost ---------------------------------------------------------------------------------


def _xgboost_models() -> list[Any]:
    xgb = pytest.importorskip("xgboost")
    features, target = _iris()
    data, y = load_diabetes(return_X_y=True)
    booster = xgb.train({"max_depth": 2}, xgb.DMatrix(data, label=y), num_boost_round=5)
    return [
        xgb.XGBClassifier(n_estimators=5, max_depth=2).fit(features, target),
        xgb.XGBRegressor(n_estimators=5, max_depth=2).fit(data, y),
        booster,
    ]


def _xgb_data(model: Any) -> np.ndarray[Any, Any]:
    return _iris()[0] if model.__class__.__name__ == "XGBClassifier" else load_diabetes().data


def _xgb_predict(model: Any, data: np.ndarray[Any, Any]) -> Any:
    import xgboost as xgb

    return model.predict(xgb.DMatrix(data) if isinstance(model, xgb.Booster) else data)


@pytest.mark.parametrize("index", [0, 1, 2], ids=["classifier", "regressor", "booster"])
def test_mlflow_loads_our_xgboost_packages(index: int, tmp_path: Path) -> None:
    import mlflow.pyfunc
    import mlflow.xgboost

    from shipyard import xgboost as shipyard_xgboost

    model = _xgboost_models()[index]
    data = _xgb_data(model)
    shipyard_xgboost.save_model(model, tmp_path / "m", input_example=data[:3])
    native = mlflow.xgboost.load_model(str(tmp_path / "m"))
    assert type(native) is type(model)
    np.testing.assert_array_equal(_xgb_predict(native, data), _xgb_predict(model, data))
    theirs = mlflow.pyfunc.load_model(str(tmp_path / "m")).predict(data)
    np.testing.assert_array_equal(np.asarray(theirs), _xgb_predict(model, data))


@pytest.mark.parametrize("index", [0, 1, 2], ids=["classifier", "regressor", "booster"])
def test_we_load_mlflow_xgboost_folders_without_trust(index: int, tmp_path: Path) -> None:
    import mlflow.xgboost

    from shipyard import xgboost as shipyard_xgboost

    model = _xgboost_models()[index]
    data = _xgb_data(model)
    _mlflow_save(mlflow.xgboost, model, tmp_path / "m", input_example=data[:3])
    ours = shipyard.pyfunc.load_model(tmp_path / "m")
    np.testing.assert_array_equal(ours.predict(data), _xgb_predict(model, data))
    assert type(shipyard_xgboost.load_model(tmp_path / "m")) is type(model)


# -- lightgbm --------------------------------------------------------------------------------


def _lightgbm_models() -> list[tuple[Any, np.ndarray[Any, Any]]]:
    lgb = pytest.importorskip("lightgbm")
    features, target = _iris()
    data, y = load_diabetes(return_X_y=True)
    small = {"n_estimators": 5, "num_leaves": 4, "verbose": -1}
    return [
        (lgb.LGBMClassifier(**small).fit(features, target), features),
        (lgb.LGBMRegressor(**small).fit(data, y), data),
        (lgb.train({"num_leaves": 4, "verbose": -1}, lgb.Dataset(data, y), 5), data),
    ]


@pytest.mark.parametrize("index", [0, 1, 2], ids=["classifier", "regressor", "booster"])
def test_mlflow_loads_our_lightgbm_packages(index: int, tmp_path: Path) -> None:
    import lightgbm as lgb
    import mlflow.lightgbm
    import mlflow.pyfunc

    from shipyard import lightgbm as shipyard_lightgbm

    model, data = _lightgbm_models()[index]
    shipyard_lightgbm.save_model(model, tmp_path / "m", input_example=data[:3])
    native = mlflow.lightgbm.load_model(str(tmp_path / "m"))  # the trees, as a Booster
    assert isinstance(native, lgb.Booster)
    raw = model.predict_proba(data) if hasattr(model, "predict_proba") else model.predict(data)
    np.testing.assert_allclose(native.predict(data), raw)
    theirs = mlflow.pyfunc.load_model(str(tmp_path / "m")).predict(data)
    np.testing.assert_array_equal(np.asarray(theirs), model.predict(data))
    ours = shipyard_lightgbm.load_model(tmp_path / "m")
    assert type(ours) is type(model)


@pytest.mark.parametrize("index", [0, 1, 2], ids=["classifier", "regressor", "booster"])
def test_we_load_mlflow_lightgbm_folders(index: int, tmp_path: Path) -> None:
    """MLflow stores Boosters as text (no trust needed) and sklearn-API models with skops,
    whose LightGBM types are outside Shipyard's allowlist: those need trust."""
    import lightgbm as lgb
    import mlflow.lightgbm

    from shipyard import lightgbm as shipyard_lightgbm

    model, data = _lightgbm_models()[index]
    _mlflow_save(mlflow.lightgbm, model, tmp_path / "m", input_example=data[:3])
    booster = isinstance(model, lgb.Booster)
    if not booster:
        with pytest.raises(UntrustedModel, match="lightgbm"):
            shipyard.pyfunc.load_model(tmp_path / "m")
    ours = shipyard.pyfunc.load_model(tmp_path / "m", trusted=not booster)
    np.testing.assert_array_equal(ours.predict(data), model.predict(data))
    loaded = shipyard_lightgbm.load_model(tmp_path / "m", trusted=not booster)
    assert type(loaded) is type(model)


# -- pytorch ---------------------------------------------------------------------------------


def _torch_expected(module: Any, data: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    import torch

    with torch.no_grad():
        result: np.ndarray[Any, Any] = module(torch.from_numpy(data)).numpy()
    return result


def test_mlflow_loads_our_pytorch_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import mlflow.pyfunc
    import mlflow.pytorch

    from shipyard import pytorch as shipyard_pytorch

    module, data = iris_torch_module()
    shipyard_pytorch.save_model(module, tmp_path / "m", input_example=data[:3])
    # MLflow 3.17 reads every PyTorch file through torch.load, so it asks for this even though
    # torch.load hands a TorchScript archive to torch.jit.load.
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
    native = mlflow.pytorch.load_model(str(tmp_path / "m"))
    expected = _torch_expected(module, data)
    np.testing.assert_array_equal(_torch_expected(native, data), expected)
    theirs = mlflow.pyfunc.load_model(str(tmp_path / "m")).predict(data)
    np.testing.assert_array_equal(np.asarray(theirs), expected)


@pytest.mark.parametrize("scripted", [True, False], ids=["torchscript", "pickled-eager"])
def test_we_load_mlflow_pytorch_folders(scripted: bool, tmp_path: Path) -> None:
    import mlflow.pytorch
    import torch

    from shipyard import pytorch as shipyard_pytorch

    module, data = iris_torch_module()
    saved = torch.jit.script(module) if scripted else module
    _mlflow_save(mlflow.pytorch, saved, tmp_path / "m", serialization_format="pickle")
    if not scripted:
        with pytest.raises(UntrustedModel, match="pickled module"):
            shipyard.pyfunc.load_model(tmp_path / "m")
    ours = shipyard.pyfunc.load_model(tmp_path / "m", trusted=not scripted)
    np.testing.assert_array_equal(ours.predict(data), _torch_expected(module, data))
    loaded = shipyard_pytorch.load_model(tmp_path / "m", trusted=not scripted)
    assert isinstance(loaded, torch.nn.Module) and not loaded.training


def test_torch_export_folders_are_refused_with_advice(tmp_path: Path) -> None:
    import mlflow.pytorch

    from shipyard.errors import FeatureNotImplemented

    module, data = iris_torch_module()
    _mlflow_save(mlflow.pytorch, module, tmp_path / "m", input_example=data[:3])  # pt2 default
    with pytest.raises(FeatureNotImplemented, match=r"torch\.export"):
        shipyard.pyfunc.load_model(tmp_path / "m")


# -- onnx ------------------------------------------------------------------------------------


def test_mlflow_loads_our_onnx_packages(tmp_path: Path) -> None:
    import mlflow.onnx
    import mlflow.pyfunc

    from shipyard import onnx as shipyard_onnx

    model, data, expected = diabetes_onnx_graph()
    shipyard_onnx.save_model(model, tmp_path / "m", input_example=data[:3])
    assert mlflow.onnx.load_model(str(tmp_path / "m")) == model
    theirs = mlflow.pyfunc.load_model(str(tmp_path / "m")).predict(data)  # {output: array}
    np.testing.assert_allclose(theirs["Y"], expected, rtol=1e-5)
    np.testing.assert_array_equal(
        shipyard.pyfunc.load_model(tmp_path / "m").predict(data), theirs["Y"]
    )


def test_we_load_mlflow_onnx_folders_without_trust(tmp_path: Path) -> None:
    import mlflow.onnx

    from shipyard import onnx as shipyard_onnx

    model, data, expected = diabetes_onnx_graph()
    _mlflow_save(mlflow.onnx, model, tmp_path / "m", input_example=data[:3])
    ours = shipyard.pyfunc.load_model(tmp_path / "m")
    np.testing.assert_allclose(ours.predict(data), expected, rtol=1e-5)
    assert shipyard_onnx.load_model(tmp_path / "m") == model
