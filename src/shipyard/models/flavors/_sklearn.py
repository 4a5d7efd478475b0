"""The scikit-learn flavor: estimators and whole ``Pipeline``s with their preprocessing.

Written in MLflow's exact layout (``loader_module: mlflow.sklearn``, flavor ``sklearn`` with
``pickled_model``, ``serialization_format``, ``sklearn_version``, ``code``), so
``mlflow.sklearn.load_model`` and ``mlflow.pyfunc.load_model`` load our packages, and we load
theirs. The default format is skops, which rebuilds objects from a description instead of running
pickle's code; ``cloudpickle`` (and MLflow's ``pickle``) load only when trusted.

``skops_trusted_types`` is written for MLflow's loader (which trusts that list); Shipyard's own
loader ignores it and applies its allowlist (see ``_trust``).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Literal

import cloudpickle
import pandas as pd
import sklearn

from shipyard.errors import InvalidModel, InvalidParameter
from shipyard.models._locate import open_package
from shipyard.models._logging import ModelInfo, log_saved
from shipyard.models._manifest import Manifest, package_file, read_manifest
from shipyard.models._package import PackageOptions, new_package_folder, write_package
from shipyard.models._requirements import imported_modules
from shipyard.models._signature import Signature
from shipyard.models._skops import skops_io
from shipyard.models._trust import load_pickle, load_skops, skops_untrusted
from shipyard.models.flavors._sklearn_arrays import array_path
from shipyard.settings import Settings

__all__ = ["FLAVOR", "LOADER_MODULE", "load_model", "load_pyfunc", "log_model", "save_model"]

FLAVOR = "sklearn"
LOADER_MODULE = "mlflow.sklearn"
SerializationFormat = Literal["skops", "cloudpickle"]
_FILES = {"skops": "model.skops", "cloudpickle": "model.pkl"}
_PREDICT_FNS = ("predict", "predict_proba", "predict_log_proba", "decision_function", "transform")


class _Predictor:
    """An estimator behind ``LoadedModel``: params are accepted and, as in MLflow, unused.

    A frame whose columns are the fitted feature names, as one block of numbers, is predicted as
    an array (``_sklearn_arrays``): the same numbers without scikit-learn's per-call checks.
    """

    __slots__ = ("_arrays", "_predict", "raw")

    def __init__(self, model: Any, predict_fn: str) -> None:
        if predict_fn not in _PREDICT_FNS or not callable(getattr(model, predict_fn, None)):
            raise InvalidModel(f"The model has no usable predict_fn {predict_fn!r}")
        self.raw = model
        self._predict = getattr(model, predict_fn)
        self._arrays = array_path(model, predict_fn)

    def predict(self, data: Any, params: dict[str, Any] | None) -> Any:
        arrays = self._arrays
        if arrays is not None and isinstance(data, pd.DataFrame) and arrays.accepts(data):
            return arrays.predict(data)
        return self._predict(data)


def save_model(
    model: Any,
    path: str | Path,
    *,
    input_example: Any = None,
    signature: Signature | None = None,
    reference_data: Any = None,
    reference_predictions: Any = None,
    serialization_format: SerializationFormat = "skops",
    predict_fn: str = "predict",
    extra_pip_requirements: tuple[str, ...] = (),
) -> Manifest:
    """Write ``model`` as a package folder at ``path``; returns its manifest."""
    if serialization_format not in _FILES:
        raise InvalidParameter(
            f"serialization_format must be 'skops' or 'cloudpickle', not {serialization_format!r}"
        )
    _Predictor(model, predict_fn)  # fail before writing anything
    folder = new_package_folder(path)
    model_file = _FILES[serialization_format]
    trusted_types = _dump(model, folder / model_file, serialization_format)
    options = PackageOptions(
        input_example, signature, reference_data, reference_predictions, extra_pip_requirements
    )
    flavor_conf = {
        "code": None,
        "pickled_model": model_file,
        "serialization_format": serialization_format,
        "sklearn_version": sklearn.__version__,
        "skops_trusted_types": trusted_types,
    }
    pyfunc = {"loader_module": LOADER_MODULE, "model_path": model_file, "predict_fn": predict_fn}
    modules = imported_modules(model) | {"sklearn", "numpy", serialization_format}
    return write_package(
        folder,
        flavor=(FLAVOR, flavor_conf),
        pyfunc=pyfunc,
        modules=modules,
        options=options,
        predict=getattr(model, predict_fn),
    )


def _dump(model: Any, path: Path, fmt: str) -> list[str] | None:
    """Serialize; for skops return the types MLflow's loader must be told to trust."""
    if fmt == "cloudpickle":
        with path.open("wb") as handle:
            cloudpickle.dump(model, handle)
        return None
    try:
        skops_io().dump(model, path)
    except Exception as exc:
        raise InvalidParameter(
            f"This model cannot be stored with skops ({exc}); pass "
            "serialization_format='cloudpickle' (loading it will then need trusted=True)"
        ) from exc
    refused = skops_untrusted(path)
    if refused:
        warnings.warn(
            f"The model holds types outside Shipyard's skops allowlist ({', '.join(refused)}); "
            "loading it will need trusted=True",
            stacklevel=3,
        )
    untrusted: list[str] = skops_io().get_untrusted_types(file=path)
    return untrusted or None


def log_model(
    model: Any,
    name: str = "model",
    *,
    input_example: Any = None,
    signature: Signature | None = None,
    reference_data: Any = None,
    reference_predictions: Any = None,
    serialization_format: SerializationFormat = "skops",
    predict_fn: str = "predict",
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
        serialization_format=serialization_format,
        predict_fn=predict_fn,
        extra_pip_requirements=extra_pip_requirements,
    )


def load_model(
    uri: str | Path,
    trusted: bool = False,
    *,
    settings: Settings | None = None,
    tracking_uri: str | None = None,
) -> Any:
    """The fitted estimator stored at ``uri`` (any URI ``shipyard.pyfunc.load_model`` takes)."""
    settings = settings or Settings.from_env()
    with open_package(str(uri), settings, tracking_uri) as package:
        manifest = read_manifest(package.path)
        return _load_estimator(package.path, manifest, trusted or settings.trust_pickle)


def load_pyfunc(folder: Path, manifest: Manifest, trusted: bool) -> _Predictor:
    model = _load_estimator(folder, manifest, trusted)
    return _Predictor(model, str(manifest.pyfunc.get("predict_fn") or "predict"))


def _load_estimator(folder: Path, manifest: Manifest, trusted: bool) -> Any:
    conf = manifest.flavors.get(FLAVOR)
    if conf is None:
        raise InvalidModel(f"This package has no {FLAVOR} flavor (it has {list(manifest.flavors)})")
    fmt = str(conf.get("serialization_format") or "pickle")
    path = package_file(folder, conf.get("pickled_model"), "model file (sklearn.pickled_model)")
    _warn_version(conf.get("sklearn_version"))
    if fmt == "skops":
        hint = conf.get("skops_trusted_types")
        names = [n for n in hint if isinstance(n, str)] if isinstance(hint, list) else []
        return load_skops(path, trusted, names)
    if fmt in ("cloudpickle", "pickle"):
        return load_pickle(path, fmt, trusted)
    raise InvalidModel(f"Unknown sklearn serialization_format {fmt!r}")


def _warn_version(saved: Any) -> None:
    if saved and str(saved) != sklearn.__version__:
        warnings.warn(
            f"This model was saved with scikit-learn {saved}; this is {sklearn.__version__}. "
            "Predictions may differ; install the saved version (requirements.txt) to be sure.",
            stacklevel=4,
        )
