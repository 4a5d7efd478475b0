"""What a flavor is, and which flavor loads a package for ``predict()``.

A flavor is one module under ``shipyard.models.flavors`` with:

- ``save_model(model, path, ...)``, ``log_model(model, name, ...)``, ``load_model(uri, trusted)``:
  the public, framework-specific API (re-exported as ``shipyard.<flavor>``);
- ``load_pyfunc(folder, manifest, trusted) -> LoadedModel``: the generic loader
  ``shipyard.pyfunc.load_model`` calls, chosen by the MLmodel's ``python_function.loader_module``.

The registry below maps loader modules (MLflow's names, so MLflow's packages load too) to flavor
modules by name: a framework is imported only when a package needs it, and a missing one is a
``MissingDependency`` naming the extra to install. A new flavor is one module plus one line here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from shipyard.errors import FeatureNotImplemented, MissingDependency
from shipyard.models._manifest import Manifest

__all__ = [
    "LoadedModel",
    "PyfuncLoader",
    "missing_dependency",
    "pyfunc_loader",
    "supported_loader_modules",
]


class LoadedModel(Protocol):
    """A model ready to predict: the flavor's own object behind one call."""

    @property
    def raw(self) -> Any:
        """The framework's model object (a fitted estimator, a ``PythonModel`` ...)."""

    def predict(self, data: Any, params: dict[str, Any] | None) -> Any: ...


PyfuncLoader = Callable[[Path, Manifest, bool], LoadedModel]


class _Entry(NamedTuple):
    module: str  # the Shipyard flavor module
    framework: str  # the top-level package it needs
    extra: str | None  # the pip extra that installs it (None: a core dependency)


_SKLEARN = _Entry("shipyard.models.flavors._sklearn", "sklearn", None)
_PYTHON_MODEL = _Entry("shipyard.models.flavors._python_model", "cloudpickle", None)
_XGBOOST = _Entry("shipyard.models.flavors._xgboost", "xgboost", "xgboost")
_LIGHTGBM = _Entry("shipyard.models.flavors._lightgbm", "lightgbm", "lightgbm")
_PYTORCH = _Entry("shipyard.models.flavors._pytorch", "torch", "pytorch")
_ONNX = _Entry("shipyard.models.flavors._onnx", "onnx", "onnx")
_BY_LOADER: dict[str, _Entry] = {
    "mlflow.onnx": _ONNX,
    "mlflow.pytorch": _PYTORCH,
    "mlflow.lightgbm": _LIGHTGBM,
    "shipyard.lightgbm": _LIGHTGBM,
    "mlflow.sklearn": _SKLEARN,
    "mlflow.xgboost": _XGBOOST,
    "shipyard.pyfunc": _PYTHON_MODEL,
    "mlflow.pyfunc.model": _PYTHON_MODEL,
}


def missing_dependency(framework: str, extra: str | None) -> MissingDependency:
    """The error for a flavor whose framework is not installed: it names the pip command."""
    install = f"shipyard-ml[{extra}]" if extra else framework
    return MissingDependency(
        f"This model needs {framework}, which is not installed: pip install '{install}'"
    )


def supported_loader_modules() -> list[str]:
    return sorted(_BY_LOADER)


def pyfunc_loader(loader_module: str) -> PyfuncLoader:
    """The ``load_pyfunc`` of the flavor that reads packages with this ``loader_module``."""
    entry = _BY_LOADER.get(loader_module)
    if entry is None:
        raise FeatureNotImplemented(
            f"Shipyard cannot load models whose loader_module is {loader_module!r} yet; "
            f"it loads {', '.join(supported_loader_modules())}"
        )
    try:
        module = importlib.import_module(entry.module)
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.split(".")[0] != entry.framework:
            raise
        raise missing_dependency(entry.framework, entry.extra) from None
    loader: PyfuncLoader = module.load_pyfunc
    return loader
