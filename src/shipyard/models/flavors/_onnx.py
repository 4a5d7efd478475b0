"""The ONNX flavor: an ``onnx.ModelProto`` stored as ``model.onnx``, served with onnxruntime.

ONNX is a graph of standard operators plus weights, in protobuf: loading it runs no Python code,
so it needs no trust. The layout is MLflow's ``onnx`` flavor (``data``, ``onnx_version``,
``providers``, ``onnx_session_options``), so ``mlflow.onnx`` loads our packages and we load its.
``predict`` feeds an array to a single-input graph, a DataFrame's columns (or its values, for a
single input) or a ``{name: array}`` dict; it returns the array of a single-output graph, and
``{name: array}`` when the graph has several outputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidModel, InvalidParameter
from shipyard.models._flavor import missing_dependency
from shipyard.models._locate import open_package
from shipyard.models._logging import ModelInfo, log_saved
from shipyard.models._manifest import Manifest, package_file, read_manifest
from shipyard.models._package import PackageOptions, new_package_folder, write_package
from shipyard.models._signature import Signature
from shipyard.models._trust import invalid_if_corrupt
from shipyard.settings import Settings

try:
    import onnx
    import onnxruntime
    from google.protobuf.message import DecodeError
except ModuleNotFoundError as exc:  # pragma: no cover - exercised with onnx hidden
    raise missing_dependency(exc.name or "onnx", "onnx") from exc

__all__ = ["FLAVOR", "LOADER_MODULE", "load_model", "load_pyfunc", "log_model", "save_model"]

FLAVOR = "onnx"
LOADER_MODULE = "mlflow.onnx"
MODEL_FILE = "model.onnx"
_PROVIDERS = ["CPUExecutionProvider"]
_ORT = onnxruntime.capi.onnxruntime_pybind11_state
_CORRUPT = (DecodeError, _ORT.Fail, _ORT.InvalidProtobuf, _ORT.InvalidGraph, ValueError)


class _Session:
    """An onnxruntime session behind ``LoadedModel``; ``raw`` is the ``ModelProto``."""

    __slots__ = ("_inputs", "_outputs", "_session", "raw")

    def __init__(self, model: Any, session: Any) -> None:
        self.raw = model
        self._session = session
        self._inputs = [i.name for i in session.get_inputs()]
        self._outputs = [o.name for o in session.get_outputs()]

    def predict(self, data: Any, params: dict[str, Any] | None) -> Any:
        results = self._session.run(None, self._feed(data))
        if len(results) == 1:
            return results[0]
        return dict(zip(self._outputs, results, strict=True))

    def _feed(self, data: Any) -> dict[str, Any]:
        if isinstance(data, dict):
            return {name: np.asarray(value) for name, value in data.items()}
        if isinstance(data, pd.DataFrame) and len(self._inputs) > 1:
            return {name: data[name].to_numpy() for name in self._inputs}
        if len(self._inputs) != 1:
            raise InvalidParameter(
                f"This ONNX model has inputs {self._inputs}: pass a dict or a DataFrame of them"
            )
        array = data.to_numpy() if isinstance(data, pd.DataFrame) else np.asarray(data)
        return {self._inputs[0]: array}


def _session(model_bytes: bytes) -> Any:
    return onnxruntime.InferenceSession(model_bytes, providers=_PROVIDERS)


def save_model(
    model: Any,
    path: str | Path,
    *,
    input_example: Any = None,
    signature: Signature | None = None,
    reference_data: Any = None,
    reference_predictions: Any = None,
    extra_pip_requirements: tuple[str, ...] = (),
) -> Manifest:
    """Write an ``onnx.ModelProto`` (checked with ``onnx.checker``) as a package at ``path``."""
    if not isinstance(model, onnx.ModelProto):
        raise InvalidParameter(f"Expected an onnx.ModelProto, got {type(model).__name__}")
    onnx.checker.check_model(model)
    data = model.SerializeToString()
    served = _Session(model, _session(data))
    folder = new_package_folder(path)
    (folder / MODEL_FILE).write_bytes(data)
    flavor_conf = {
        "code": None,
        "data": MODEL_FILE,
        "onnx_session_options": None,
        "onnx_version": onnx.__version__,
        "providers": _PROVIDERS,
    }
    options = PackageOptions(
        input_example, signature, reference_data, reference_predictions, extra_pip_requirements
    )
    return write_package(
        folder,
        flavor=(FLAVOR, flavor_conf),
        pyfunc={"loader_module": LOADER_MODULE, "data": MODEL_FILE},
        modules={"onnx", "onnxruntime", "numpy"},
        options=options,
        predict=lambda example: served.predict(example, None),
    )


def log_model(
    model: Any,
    name: str = "model",
    *,
    input_example: Any = None,
    signature: Signature | None = None,
    reference_data: Any = None,
    reference_predictions: Any = None,
    extra_pip_requirements: tuple[str, ...] = (),
) -> ModelInfo:
    """Save ``model`` into the active run's artifacts under ``name``."""
    return log_saved(
        name,
        save_model,
        model,
        input_example=input_example,
        signature=signature,
        reference_data=reference_data,
        reference_predictions=reference_predictions,
        extra_pip_requirements=extra_pip_requirements,
    )


def load_model(
    uri: str | Path,
    trusted: bool = False,
    *,
    settings: Settings | None = None,
    tracking_uri: str | None = None,
) -> Any:
    """The ``onnx.ModelProto`` at ``uri`` (``trusted`` is unused: ONNX runs no Python code)."""
    settings = settings or Settings.from_env()
    with open_package(str(uri), settings, tracking_uri) as package:
        return _load(package.path, read_manifest(package.path)).raw


def load_pyfunc(folder: Path, manifest: Manifest, trusted: bool) -> _Session:
    return _load(folder, manifest)


def _load(folder: Path, manifest: Manifest) -> _Session:
    conf = manifest.flavors.get(FLAVOR)
    if conf is None:
        raise InvalidModel(f"This package has no {FLAVOR} flavor (it has {list(manifest.flavors)})")
    path = package_file(folder, conf.get("data"), "model file (onnx.data)")
    data = path.read_bytes()
    with invalid_if_corrupt(path, _CORRUPT):
        model = onnx.load_model_from_string(data)
        return _Session(model, _session(data))
