"""Flavor cases for the contract suite, and scikit-learn's bundled data sets shaped for them.

Each ``FlavorCase`` knows how to build a fitted model, the input it predicts on, and how to save
and log it; the contract suite (``test_contract.py``) runs every check against every case. A new
flavor adds one case to ``make_case``. (A plain module, imported by the tests and by
``conftest.py``, because test modules cannot import a conftest.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_diabetes, load_iris, load_wine
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import shipyard.pyfunc
import shipyard.sklearn
from shipyard.models import Manifest, ModelInfo


def wine_frame() -> tuple[pd.DataFrame, np.ndarray[Any, Any]]:
    """Wine with mixed column types: floats, an int column, a string and a boolean."""
    data, target = load_wine(return_X_y=True, as_frame=True)
    frame = data[["alcohol", "malic_acid", "ash", "magnesium", "color_intensity"]].copy()
    frame["magnesium"] = frame["magnesium"].astype("int64")
    frame["strength"] = np.where(frame["alcohol"] > 13.0, "strong", "light")
    frame["deep_color"] = frame["color_intensity"] > 5.0
    return frame, target.to_numpy()


def wine_pipeline() -> tuple[Pipeline, pd.DataFrame]:
    frame, target = wine_frame()
    numeric = ["alcohol", "malic_acid", "ash", "magnesium", "color_intensity"]
    prepare = ColumnTransformer(
        [
            ("numeric", StandardScaler(), numeric),
            ("categories", OneHotEncoder(handle_unknown="ignore"), ["strength", "deep_color"]),
        ]
    )
    pipeline = Pipeline([("prepare", prepare), ("classify", LogisticRegression(max_iter=2000))])
    return pipeline.fit(frame, target), frame


def iris_estimator() -> tuple[LogisticRegression, np.ndarray[Any, Any]]:
    features, target = load_iris(return_X_y=True)
    return LogisticRegression(max_iter=1000).fit(features, target), features


def custom_model(
    artifact_dir: Path,
) -> tuple[shipyard.pyfunc.PythonModel, pd.DataFrame, dict[str, str]]:
    """A diabetes Ridge behind a ``PythonModel`` that reads a scale factor from an artifact.

    The class is defined inside this function, as in a notebook: cloudpickle stores it by value,
    so a fresh process loads it without this test module on its path.
    """
    data, target = load_diabetes(return_X_y=True, as_frame=True)
    ridge = Ridge().fit(data, target)

    class ScaledRidge(shipyard.pyfunc.PythonModel):
        def __init__(self, estimator: Ridge) -> None:
            self.estimator = estimator
            self.scale = 0.0

        def load_context(self, context: shipyard.pyfunc.PythonModelContext) -> None:
            settings = json.loads(Path(context.artifacts["settings"]).read_text())
            self.scale = float(settings["scale"])

        def predict(
            self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
        ) -> np.ndarray[Any, Any]:
            shift = (params or {}).get("shift", 0.0)
            result: np.ndarray[Any, Any] = self.estimator.predict(model_input) * self.scale
            return result + shift

    settings = artifact_dir / "settings.json"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(json.dumps({"scale": 2.0}))
    return ScaledRidge(ridge), data, {"settings": str(settings)}


@dataclass
class FlavorCase:
    """One flavor (or flavor variant) as the contract suite sees it."""

    name: str
    model: Any
    data: Any  # what predict() takes
    expected: np.ndarray[Any, Any]  # the in-memory model's predictions on ``data``
    save: Callable[[Path], Manifest]
    log: Callable[[str], ModelInfo]
    needs_trust: bool
    model_file: str
    columns: bool  # column-based signature (else tensor-based)
    requirements: frozenset[str]  # distributions requirements.txt must pin (besides pandas)


def _sklearn_case(name: str, model: Any, data: Any, columns: bool) -> FlavorCase:
    example = data[:5] if not columns else data.head(5)
    return FlavorCase(
        name=name,
        model=model,
        data=data,
        expected=np.asarray(model.predict(data)),
        save=lambda path: shipyard.sklearn.save_model(model, path, input_example=example),
        log=lambda n: shipyard.sklearn.log_model(model, n, input_example=example),
        needs_trust=False,
        model_file="model.skops",
        columns=columns,
        requirements=frozenset({"scikit-learn", "numpy", "skops"}),
    )


def _custom_case(tmp: Path) -> FlavorCase:
    model, data, artifacts = custom_model(tmp / "custom-artifacts")
    example = data.head(5)

    def save(path: Path) -> Manifest:
        return shipyard.pyfunc.save_model(
            path, python_model=model, artifacts=artifacts, input_example=example
        )

    def log(name: str) -> ModelInfo:
        return shipyard.pyfunc.log_model(model, name, artifacts=artifacts, input_example=example)

    expected = model.estimator.predict(data) * 2.0  # type: ignore[attr-defined]
    requirements = frozenset({"scikit-learn", "numpy", "cloudpickle", "shipyard-ml"})
    return FlavorCase(
        "custom", model, data, expected, save, log, True, "python_model.pkl", True, requirements
    )


def _xgboost_case() -> FlavorCase:
    xgb = pytest.importorskip("xgboost")
    import shipyard.xgboost

    features, target = load_iris(return_X_y=True)
    model = xgb.XGBClassifier(n_estimators=8, max_depth=2).fit(features, target)
    example = features[:5]
    return FlavorCase(
        name="xgboost",
        model=model,
        data=features,
        expected=np.asarray(model.predict(features)),
        save=lambda path: shipyard.xgboost.save_model(model, path, input_example=example),
        log=lambda n: shipyard.xgboost.log_model(model, n, input_example=example),
        needs_trust=False,
        model_file="model.ubj",
        columns=False,
        requirements=frozenset({"xgboost", "numpy", "scikit-learn"}),
    )


def _lightgbm_case() -> FlavorCase:
    lgb = pytest.importorskip("lightgbm")
    import shipyard.lightgbm

    features, target = load_iris(return_X_y=True)
    model = lgb.LGBMClassifier(n_estimators=8, num_leaves=4, verbose=-1).fit(features, target)
    example = features[:5]
    return FlavorCase(
        name="lightgbm",
        model=model,
        data=features,
        expected=np.asarray(model.predict(features)),
        save=lambda path: shipyard.lightgbm.save_model(model, path, input_example=example),
        log=lambda n: shipyard.lightgbm.log_model(model, n, input_example=example),
        needs_trust=False,
        model_file="model.lgb",
        columns=False,
        requirements=frozenset({"lightgbm", "numpy", "scikit-learn", "shipyard-ml"}),
    )


def iris_torch_module() -> tuple[Any, np.ndarray[Any, Any]]:
    """A small MLP fitted for a few full-batch steps on iris (float32 features)."""
    torch = pytest.importorskip("torch")
    features, target = load_iris(return_X_y=True)
    data = features.astype(np.float32)
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    optimizer = torch.optim.Adam(module.parameters(), lr=0.05)
    inputs, labels = torch.from_numpy(data), torch.from_numpy(target)
    for _ in range(20):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(module(inputs), labels).backward()
        optimizer.step()
    return module.eval(), data


def _pytorch_case() -> FlavorCase:
    torch = pytest.importorskip("torch")
    import shipyard.pytorch

    module, data = iris_torch_module()
    with torch.no_grad():
        expected = module(torch.from_numpy(data)).numpy()
    example = data[:5]
    return FlavorCase(
        name="pytorch",
        model=module,
        data=data,
        expected=expected,
        save=lambda path: shipyard.pytorch.save_model(module, path, input_example=example),
        log=lambda n: shipyard.pytorch.log_model(module, n, input_example=example),
        needs_trust=False,
        model_file="data/model.pth",
        columns=False,
        requirements=frozenset({"torch", "numpy"}),
    )


def diabetes_onnx_graph() -> tuple[Any, np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """A diabetes Ridge as a one-node ONNX graph (Gemm), its float32 inputs and predictions."""
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper, numpy_helper

    features, target = load_diabetes(return_X_y=True)
    data = features.astype(np.float32)
    ridge = Ridge().fit(data, target)
    weights = ridge.coef_.astype(np.float32).reshape(-1, 1)
    bias = np.asarray([ridge.intercept_], dtype=np.float32)
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["X", "W", "B"], ["Y"])],
        "ridge",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, data.shape[1]])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 1])],
        [numpy_helper.from_array(weights, "W"), numpy_helper.from_array(bias, "B")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    expected = (data @ weights + bias).astype(np.float32)
    return model, data, expected


def _onnx_case() -> FlavorCase:
    import onnxruntime

    import shipyard.onnx

    model, data, _ = diabetes_onnx_graph()
    session = onnxruntime.InferenceSession(model.SerializeToString())
    expected = session.run(None, {"X": data})[0]
    example = data[:5]
    return FlavorCase(
        name="onnx",
        model=model,
        data=data,
        expected=expected,
        save=lambda path: shipyard.onnx.save_model(model, path, input_example=example),
        log=lambda n: shipyard.onnx.log_model(model, n, input_example=example),
        needs_trust=False,
        model_file="model.onnx",
        columns=False,
        requirements=frozenset({"onnx", "onnxruntime", "numpy"}),
    )


FLAVORS = [
    "sklearn-estimator", "sklearn-pipeline", "custom", "xgboost", "lightgbm", "pytorch", "onnx",
]  # fmt: skip
_FRAMEWORK_CASES: dict[str, Callable[[], FlavorCase]] = {
    "onnx": _onnx_case,
    "xgboost": _xgboost_case,
    "lightgbm": _lightgbm_case,
    "pytorch": _pytorch_case,
}


def make_case(name: str, tmp: Path) -> FlavorCase:
    if name in _FRAMEWORK_CASES:
        return _FRAMEWORK_CASES[name]()
    if name == "sklearn-estimator":
        estimator, features = iris_estimator()
        return _sklearn_case(name, estimator, features, columns=False)
    if name == "sklearn-pipeline":
        pipeline, frame = wine_pipeline()
        return _sklearn_case(name, pipeline, frame, columns=True)
    return _custom_case(tmp)


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without tracking URIs or trust settings, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith("TRACKING_URI") and k not in ("SHIPYARD_TRUST_PICKLE",)
    }
    return {**env, **extra}


_PREDICT_SCRIPT = """
import sys
import numpy as np
import pandas as pd
import shipyard.pyfunc

uri, trusted, data_file, out_file = sys.argv[1:5]
data = pd.read_pickle(data_file)
if isinstance(data, pd.DataFrame) and "__array__" in data.columns:
    data = np.stack(data["__array__"].to_numpy())
model = shipyard.pyfunc.load_model(uri, trusted=trusted == "1")
np.save(out_file, np.asarray(model.predict(data)))
"""


def predict_in_fresh_process(uri: str, data: Any, trusted: bool, scratch: Path) -> Any:
    """Load ``uri`` in a new Python process and return its predictions on ``data``."""
    scratch.mkdir(parents=True, exist_ok=True)
    data_file, out_file = scratch / "input.pkl", scratch / "predictions.npy"
    frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame({"__array__": list(data)})
    frame.to_pickle(data_file)
    result = subprocess.run(
        [sys.executable, "-c", _PREDICT_SCRIPT, uri, "1" if trusted else "0",
         str(data_file), str(out_file)],
        capture_output=True, text=True, env=clean_env(), timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return np.load(out_file, allow_pickle=False)
