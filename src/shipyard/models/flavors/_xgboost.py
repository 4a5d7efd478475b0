"""The XGBoost flavor: Boosters and the scikit-learn API (``XGBClassifier``, ``XGBRegressor`` ...).

Models are stored in XGBoost's own format (UBJSON by default, or JSON) through ``save_model``,
never pickled, so loading runs no code from the file and needs no trust. The layout is MLflow's
(``loader_module: mlflow.xgboost``, flavor ``xgboost`` with ``data``, ``model_class``,
``model_format``, ``xgb_version``), so ``mlflow.xgboost.load_model`` reads our packages and we
read its. ``model_class`` names the class to rebuild; only XGBoost's own model classes are
accepted, since the name comes from the file.
"""

from __future__ import annotations

import importlib
import warnings
from pathlib import Path
from typing import Any, Literal

from shipyard.errors import InvalidModel, InvalidParameter
from shipyard.models._flavor import missing_dependency
from shipyard.models._locate import open_package
from shipyard.models._logging import ModelInfo, log_saved
from shipyard.models._manifest import Manifest, package_file, read_manifest
from shipyard.models._package import PackageOptions, new_package_folder, write_package
from shipyard.models._requirements import imported_modules
from shipyard.models._signature import Signature
from shipyard.models._trust import invalid_if_corrupt
from shipyard.settings import Settings

try:
    import xgboost as xgb
except ModuleNotFoundError as exc:  # pragma: no cover - exercised with xgboost hidden
    raise missing_dependency("xgboost", "xgboost") from exc

__all__ = ["FLAVOR", "LOADER_MODULE", "load_model", "load_pyfunc", "log_model", "save_model"]

FLAVOR = "xgboost"
LOADER_MODULE = "mlflow.xgboost"
ModelFormat = Literal["ubj", "json"]


class _Predictor:
    """A Booster (fed a ``DMatrix``) or an sklearn-API model behind ``LoadedModel``."""

    __slots__ = ("_predict", "raw")

    def __init__(self, model: Any) -> None:
        self.raw = model
        self._predict = _predict_fn(model)

    def predict(self, data: Any, params: dict[str, Any] | None) -> Any:
        return self._predict(data)


def _predict_fn(model: Any) -> Any:
    if isinstance(model, xgb.Booster):
        return lambda data: model.predict(xgb.DMatrix(data))
    return model.predict


def save_model(
    model: Any,
    path: str | Path,
    *,
    input_example: Any = None,
    signature: Signature | None = None,
    reference_data: Any = None,
    reference_predictions: Any = None,
    model_format: ModelFormat = "ubj",
    extra_pip_requirements: tuple[str, ...] = (),
) -> Manifest:
    """Write a fitted XGBoost model as a package folder at ``path``; returns its manifest."""
    if not isinstance(model, xgb.Booster | xgb.XGBModel):
        raise InvalidParameter(f"Expected an XGBoost model, got {type(model).__name__}")
    if model_format not in ("ubj", "json"):
        raise InvalidParameter(f"model_format must be 'ubj' or 'json', not {model_format!r}")
    folder = new_package_folder(path)
    model_file = f"model.{model_format}"
    model.save_model(str(folder / model_file))
    flavor_conf = {
        "code": None,
        "data": model_file,
        "model_class": f"{type(model).__module__}.{type(model).__qualname__}",
        "model_format": model_format,
        "xgb_version": xgb.__version__,
    }
    options = PackageOptions(
        input_example, signature, reference_data, reference_predictions, extra_pip_requirements
    )
    return write_package(
        folder,
        flavor=(FLAVOR, flavor_conf),
        pyfunc={"loader_module": LOADER_MODULE, "data": model_file},
        modules=imported_modules(model) | _modules(model),
        options=options,
        predict=_predict_fn(model),
    )


def _modules(model: Any) -> set[str]:
    return {"xgboost", "numpy"} | ({"sklearn"} if isinstance(model, xgb.XGBModel) else set())


def log_model(
    model: Any,
    name: str = "model",
    *,
    input_example: Any = None,
    signature: Signature | None = None,
    reference_data: Any = None,
    reference_predictions: Any = None,
    model_format: ModelFormat = "ubj",
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
        model_format=model_format,
        extra_pip_requirements=extra_pip_requirements,
    )


def load_model(
    uri: str | Path,
    trusted: bool = False,
    *,
    settings: Settings | None = None,
    tracking_uri: str | None = None,
) -> Any:
    """The XGBoost model at ``uri``, as the class it was saved from (``trusted`` is unused:
    XGBoost's format runs no code; it is accepted so every flavor's loader is called alike)."""
    settings = settings or Settings.from_env()
    with open_package(str(uri), settings, tracking_uri) as package:
        return _load(package.path, read_manifest(package.path))


def load_pyfunc(folder: Path, manifest: Manifest, trusted: bool) -> _Predictor:
    return _Predictor(_load(folder, manifest))


def _load(folder: Path, manifest: Manifest) -> Any:
    conf = manifest.flavors.get(FLAVOR)
    if conf is None:
        raise InvalidModel(f"This package has no {FLAVOR} flavor (it has {list(manifest.flavors)})")
    path = package_file(folder, conf.get("data"), "model file (xgboost.data)")
    model = _model_class(conf.get("model_class") or "xgboost.core.Booster")()
    _warn_version(conf.get("xgb_version"))
    with invalid_if_corrupt(path, (xgb.core.XGBoostError, ValueError, UnicodeDecodeError)):
        model.load_model(str(path))
    return model


def _model_class(name: Any) -> type[Any]:
    """The XGBoost class ``model_class`` names; anything else is refused (it came from a file)."""
    module_name, _, attribute = str(name).rpartition(".")
    found: Any = None
    if module_name.split(".")[0] == "xgboost":
        try:
            found = getattr(importlib.import_module(module_name), attribute, None)
        except ImportError:
            found = None
    if not (isinstance(found, type) and issubclass(found, xgb.Booster | xgb.XGBModel)):
        raise InvalidModel(f"The xgboost flavor's model_class {name!r} is not an XGBoost model")
    return found


def _warn_version(saved: Any) -> None:
    if saved and str(saved) != xgb.__version__:
        warnings.warn(
            f"This model was saved with xgboost {saved}; this is {xgb.__version__}. "
            "XGBoost reads older models, but install the saved version to be sure.",
            stacklevel=4,
        )
