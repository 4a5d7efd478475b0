"""``load_model(uri)`` -> ``PyFuncModel``: any package, one ``predict(data, params)``.

The MLmodel's ``python_function.loader_module`` picks the flavor that rebuilds the model; the
signature, compiled once, checks and safely converts every input and fills in param defaults
before the flavor's predict runs. ``trusted`` (or ``SHIPYARD_TRUST_PICKLE``) is the caller's word
that the package's source may run code on this machine; without it, formats that execute code
while loading are refused.
"""

from __future__ import annotations

import platform
import warnings
from pathlib import Path
from typing import Any

from shipyard.models._enforce import InputEnforcer, ParamEnforcer
from shipyard.models._flavor import LoadedModel, pyfunc_loader
from shipyard.models._locate import LocalPackage, open_package
from shipyard.models._manifest import Manifest, read_manifest
from shipyard.models._signature import Signature
from shipyard.settings import Settings

__all__ = ["PyFuncModel", "load_for_mlflow", "load_local", "load_model"]


class PyFuncModel:
    """A loaded model: ``predict(data, params=None)``, its ``metadata`` and ``signature``."""

    def __init__(
        self, impl: LoadedModel, manifest: Manifest, package: LocalPackage | None = None
    ) -> None:
        self._impl = impl
        self._package = package  # keeps a downloaded folder alive as long as the model
        self.metadata = manifest
        signature = manifest.signature
        inputs = signature.inputs if signature is not None else None
        self._inputs = InputEnforcer(inputs) if inputs is not None and inputs.specs else None
        self._params = ParamEnforcer(signature.params if signature is not None else None)

    @property
    def signature(self) -> Signature | None:
        return self.metadata.signature

    @property
    def loader_module(self) -> str:
        return self.metadata.loader_module

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        """Check ``data`` against the signature (converting safely), then predict."""
        if self._inputs is not None:
            data = self._inputs(data)
        return self._impl.predict(data, self._params(params))

    def unwrap(self) -> Any:
        """The framework's own model object (an estimator, your ``PythonModel`` ...)."""
        return self._impl.raw

    def __repr__(self) -> str:
        flavors = ", ".join(k for k in self.metadata.flavors if k != "python_function")
        return f"PyFuncModel(flavor={flavors}, model_uuid={self.metadata.model_uuid!r})"


def load_model(
    uri: str | Path,
    trusted: bool = False,
    *,
    settings: Settings | None = None,
    tracking_uri: str | None = None,
) -> PyFuncModel:
    """Load the package at ``uri`` (a path, ``runs:/``, ``models:/m-...``, ``s3://`` ...)."""
    settings = settings or Settings.from_env()
    package = open_package(str(uri), settings, tracking_uri)
    try:
        manifest, impl = load_local(package.path, trusted or settings.trust_pickle)
    except BaseException:
        package.close()
        raise
    return PyFuncModel(impl, manifest, package)


def load_local(folder: Path, trusted: bool) -> tuple[Manifest, LoadedModel]:
    """Read the manifest of a local package folder and rebuild its model."""
    manifest = read_manifest(folder)
    loader = pyfunc_loader(manifest.loader_module)
    _warn_python_version(manifest)
    return manifest, loader(folder, manifest, trusted)


class _ForMlflow:
    """What MLflow's ``PyFuncModel`` wraps: ``predict(model_input, params=None)``."""

    __slots__ = ("_impl",)

    def __init__(self, impl: LoadedModel) -> None:
        self._impl = impl

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        return self._impl.predict(model_input, params)


def load_for_mlflow(path: str) -> _ForMlflow:
    """MLflow's ``_load_pyfunc(path)`` for packages whose loader module is ``shipyard.pyfunc``.

    MLflow enforces the signature itself; trust comes from ``SHIPYARD_TRUST_PICKLE``.
    """
    folder = Path(path)
    if folder.is_file():
        folder = folder.parent
    _, impl = load_local(folder, Settings.from_env().trust_pickle)
    return _ForMlflow(impl)


def _warn_python_version(manifest: Manifest) -> None:
    saved = str(manifest.pyfunc.get("python_version") or "")
    here = platform.python_version()
    if saved and saved.split(".")[:2] != here.split(".")[:2]:
        warnings.warn(
            f"This model was saved with Python {saved}; this is Python {here}. "
            "If loading or predicting fails, use the saved version (python_env.yaml).",
            stacklevel=3,
        )
