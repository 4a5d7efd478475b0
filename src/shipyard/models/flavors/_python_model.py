"""Custom Python models: subclass ``PythonModel``, implement ``predict``, ship extra artifacts.

The model object is stored with cloudpickle (its class may live in a notebook or a script, so it
is pickled by value), which means loading it runs code: it needs ``trusted=True`` or
``SHIPYARD_TRUST_PICKLE=true``. Artifacts (files or folders, local or at any model URI) are
copied into ``artifacts/<name>/`` and handed to ``load_context`` as local paths.

Packages written by ``mlflow.pyfunc.save_model(python_model=...)`` share this layout
(``python_model.pkl``, ``artifacts``), so the same loader reads them; their ``predict`` may or
may not take ``context`` and ``params``, and is called accordingly.
"""

from __future__ import annotations

import inspect
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cloudpickle

from shipyard.artifacts import normalize_artifact_path
from shipyard.errors import FeatureNotImplemented, InvalidModel, InvalidParameter
from shipyard.models._locate import open_package
from shipyard.models._logging import ModelInfo, log_package
from shipyard.models._manifest import Manifest, package_file
from shipyard.models._package import PackageOptions, new_package_folder, write_package
from shipyard.models._requirements import imported_modules
from shipyard.models._signature import Signature
from shipyard.models._trust import load_pickle
from shipyard.settings import Settings

__all__ = [
    "LOADER_MODULE",
    "PythonModel",
    "PythonModelContext",
    "load_pyfunc",
    "log_model",
    "save_model",
]

LOADER_MODULE = "shipyard.pyfunc"
MODEL_FILE = "python_model.pkl"
ARTIFACTS_DIR = "artifacts"


@dataclass(frozen=True, slots=True)
class PythonModelContext:
    """What ``load_context`` and ``predict`` receive: artifact paths and the model's config."""

    artifacts: dict[str, str] = field(default_factory=dict)
    model_config: dict[str, Any] = field(default_factory=dict)


class PythonModel:
    """Base class of custom models: override ``predict`` (and ``load_context`` to set up)."""

    def load_context(self, context: PythonModelContext) -> None:
        """Called once after loading: read artifacts (``context.artifacts[name]``) here."""

    def predict(
        self, context: PythonModelContext, model_input: Any, params: dict[str, Any] | None = None
    ) -> Any:
        raise NotImplementedError("A PythonModel must implement predict()")


class _Wrapped:
    """A ``PythonModel`` (ours or MLflow's) behind ``LoadedModel``."""

    __slots__ = ("_call", "raw")

    def __init__(self, model: Any, context: PythonModelContext) -> None:
        self.raw = model
        self._call = _caller(model, context)

    def predict(self, data: Any, params: dict[str, Any] | None) -> Any:
        return self._call(data, params)


def _caller(model: Any, context: PythonModelContext) -> Callable[[Any, Any], Any]:
    """Call ``predict`` the way it is declared: with or without ``context`` and ``params``."""
    predict = getattr(model, "predict", None)
    if not callable(predict):
        raise InvalidModel(f"The stored model ({type(model).__name__}) has no predict method")
    parameters = inspect.signature(predict).parameters
    takes_params = "params" in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    )
    positional = [p for p in parameters.values() if p.name != "params"]
    takes_context = "context" in parameters or len(positional) >= 2
    if takes_context and takes_params:
        return lambda data, params: predict(context, data, params=params)
    if takes_context:
        return lambda data, params: predict(context, data)
    if takes_params:
        return lambda data, params: predict(data, params=params)
    return lambda data, params: predict(data)


def save_model(
    path: str | Path,
    python_model: PythonModel,
    artifacts: Mapping[str, str | Path] | None = None,
    *,
    input_example: Any = None,
    signature: Signature | None = None,
    reference_data: Any = None,
    reference_predictions: Any = None,
    model_config: Mapping[str, Any] | None = None,
    extra_pip_requirements: tuple[str, ...] = (),
) -> Manifest:
    """Write ``python_model`` (cloudpickled) and its ``artifacts`` as a package at ``path``."""
    if not callable(getattr(python_model, "predict", None)):
        raise InvalidParameter("python_model must be a PythonModel with a predict method")
    folder = new_package_folder(path)
    stored = _copy_artifacts(folder, artifacts or {})
    with (folder / MODEL_FILE).open("wb") as handle:
        cloudpickle.dump(python_model, handle)
    config = dict(model_config or {})
    context = PythonModelContext(_local_artifacts(folder, stored), config)
    pyfunc: dict[str, Any] = {
        "loader_module": LOADER_MODULE,
        "python_model": MODEL_FILE,
        "cloudpickle_version": cloudpickle.__version__,
        "code": None,
        **({"artifacts": stored} if stored else {}),
        **({"model_config": config} if config else {}),
    }
    options = PackageOptions(
        input_example, signature, reference_data, reference_predictions, extra_pip_requirements
    )
    return write_package(
        folder,
        flavor=None,
        pyfunc=pyfunc,
        modules=imported_modules(python_model) | {"cloudpickle", "shipyard"},
        options=options,
        predict=_example_predictor(python_model, context),
    )


def _example_predictor(model: PythonModel, context: PythonModelContext) -> Callable[[Any], Any]:
    def predict(example: Any) -> Any:
        model.load_context(context)
        return _caller(model, context)(example, None)

    return predict


def _copy_artifacts(folder: Path, artifacts: Mapping[str, str | Path]) -> dict[str, Any]:
    """Copy each artifact to ``artifacts/<name>/``; returns the flavor's ``artifacts`` entry."""
    stored: dict[str, Any] = {}
    settings = Settings.from_env()
    for name, uri in artifacts.items():
        if "/" in name or normalize_artifact_path(name) != name:
            raise InvalidParameter(f"Artifact name {name!r} must be a plain name, like 'vocab'")
        with open_package(str(uri), settings) as source:  # any model URI: a path, runs:/, s3://
            if not source.path.exists():
                raise InvalidParameter(f"Artifact {name!r}: nothing at {str(uri)!r}")
            relative = f"{ARTIFACTS_DIR}/{name}/{source.path.name}"
            destination = folder / relative
            destination.parent.mkdir(parents=True)
            if source.path.is_dir():
                shutil.copytree(source.path, destination)
            else:
                shutil.copy2(source.path, destination)
        stored[name] = {"path": relative, "uri": str(uri)}
    return stored


def _local_artifacts(folder: Path, stored: Mapping[str, Any]) -> dict[str, str]:
    artifacts = {}
    for name, entry in stored.items():
        where = entry.get("path") if isinstance(entry, dict) else None
        artifacts[str(name)] = str(package_file(folder, where, f"artifact {name!r}"))
    return artifacts


def log_model(
    python_model: PythonModel,
    name: str = "model",
    artifacts: Mapping[str, str | Path] | None = None,
    *,
    input_example: Any = None,
    signature: Signature | None = None,
    reference_data: Any = None,
    reference_predictions: Any = None,
    model_config: Mapping[str, Any] | None = None,
    extra_pip_requirements: tuple[str, ...] = (),
) -> ModelInfo:
    """Save ``python_model`` into the active run's artifacts under ``name``."""

    def save(folder: Path) -> Manifest:
        return save_model(
            folder,
            python_model,
            artifacts,
            input_example=input_example,
            signature=signature,
            reference_data=reference_data,
            reference_predictions=reference_predictions,
            model_config=model_config,
            extra_pip_requirements=extra_pip_requirements,
        )

    return log_package(name, save)


def load_pyfunc(folder: Path, manifest: Manifest, trusted: bool) -> _Wrapped:
    conf = manifest.pyfunc
    if conf.get("code"):
        raise FeatureNotImplemented("Loading packages with code paths (code:) is not supported yet")
    stored = conf.get("python_model")
    if isinstance(stored, str) and stored.endswith(".py"):
        raise FeatureNotImplemented("MLflow models-from-code (a .py python_model) cannot load yet")
    path = package_file(folder, stored, "python_model file")
    model = load_pickle(path, "cloudpickle", trusted)
    artifacts = conf.get("artifacts") or {}
    config = conf.get("model_config") or {}
    context = PythonModelContext(_local_artifacts(folder, artifacts), dict(config))
    if callable(getattr(model, "load_context", None)):
        model.load_context(context)
    return _Wrapped(model, context)
