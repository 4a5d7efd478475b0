"""The LightGBM flavor: ``Booster``s and the scikit-learn API (``LGBMClassifier``, ...).

The trees are stored in LightGBM's own text format (``booster.save_model``), never pickled, so
loading runs no code and needs no trust. The layout is MLflow's ``lightgbm`` flavor: ``data`` and
``model_class`` describe the file, a ``lightgbm.basic.Booster``, which ``mlflow.lightgbm`` loads.
For a scikit-learn model, ``sklearn_model`` adds what the wrapper needs around the trees (its
class, constructor params and class labels), and ``python_function`` names ``shipyard.lightgbm``
so ``mlflow.pyfunc`` predicts labels as the model did (MLflow's own loader would return the bare
Booster's probabilities). MLflow's sklearn-API folders (skops or pickle) load too, by the same
trust rules as the sklearn flavor.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from shipyard.errors import InvalidModel, InvalidParameter
from shipyard.models._flavor import missing_dependency
from shipyard.models._locate import open_package
from shipyard.models._logging import ModelInfo, log_saved
from shipyard.models._manifest import Manifest, package_file, read_manifest
from shipyard.models._package import PackageOptions, new_package_folder, write_package
from shipyard.models._signature import Signature
from shipyard.models._trust import invalid_if_corrupt, load_pickle, load_skops
from shipyard.settings import Settings

try:
    import lightgbm as lgb
    from sklearn.preprocessing import LabelEncoder
except ModuleNotFoundError as exc:  # pragma: no cover - exercised with lightgbm hidden
    raise missing_dependency("lightgbm", "lightgbm") from exc

__all__ = [
    "FLAVOR",
    "LOADER_MODULE",
    "load_for_mlflow",
    "load_model",
    "load_pyfunc",
    "log_model",
    "save_model",
]

FLAVOR = "lightgbm"
LOADER_MODULE = "mlflow.lightgbm"
SKLEARN_LOADER_MODULE = "shipyard.lightgbm"
MODEL_FILE = "model.lgb"
_BOOSTER = "lightgbm.basic.Booster"
_SKLEARN_CLASSES = {c.__name__: c for c in (lgb.LGBMClassifier, lgb.LGBMRegressor)}


class _Predictor:
    """A LightGBM model behind ``LoadedModel``: params are accepted and, as in MLflow, unused."""

    __slots__ = ("raw",)

    def __init__(self, model: Any) -> None:
        self.raw = model

    def predict(self, data: Any, params: dict[str, Any] | None) -> Any:
        return self.raw.predict(data)


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
    """Write a fitted ``Booster``, ``LGBMClassifier`` or ``LGBMRegressor`` at ``path``."""
    sklearn_model = _sklearn_state(model) if not isinstance(model, lgb.Booster) else None
    booster = model if isinstance(model, lgb.Booster) else model.booster_
    folder = new_package_folder(path)
    booster.save_model(str(folder / MODEL_FILE))
    flavor_conf: dict[str, Any] = {
        "code": None,
        "data": MODEL_FILE,
        "lgb_version": lgb.__version__,
        "model_class": _BOOSTER,
        **({"sklearn_model": sklearn_model} if sklearn_model else {}),
    }
    loader = SKLEARN_LOADER_MODULE if sklearn_model else LOADER_MODULE
    options = PackageOptions(
        input_example, signature, reference_data, reference_predictions, extra_pip_requirements
    )
    modules = {"lightgbm", "numpy"} | ({"sklearn", "shipyard"} if sklearn_model else set())
    return write_package(
        folder,
        flavor=(FLAVOR, flavor_conf),
        pyfunc={"loader_module": loader, "data": MODEL_FILE},
        modules=modules,
        options=options,
        predict=model.predict,
    )


def _sklearn_state(model: Any) -> dict[str, Any]:
    """What rebuilds the scikit-learn wrapper around the stored trees, as plain YAML values."""
    cls = _SKLEARN_CLASSES.get(type(model).__name__)
    if cls is not type(model):
        raise InvalidParameter(
            f"Expected a lightgbm Booster, LGBMClassifier or LGBMRegressor, got "
            f"{type(model).__name__}"
        )
    if not model.__sklearn_is_fitted__():
        raise InvalidParameter("The LightGBM model is not fitted")
    params = model.get_params()
    try:  # a callable objective or metric cannot be stored without pickle
        params = json.loads(json.dumps(params, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise InvalidParameter(
            f"This model's params cannot be stored as data ({exc}); save model.booster_ instead"
        ) from None
    state: dict[str, Any] = {"class": f"lightgbm.sklearn.{cls.__name__}", "params": params}
    if isinstance(model, lgb.LGBMClassifier):
        state["classes"] = np.asarray(model.classes_).tolist()
    return state


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
    """The model at ``uri``: a ``Booster``, or the ``LGBMClassifier``/``LGBMRegressor`` saved.
    ``trusted`` matters only for MLflow's pickled folders; the native format runs no code."""
    settings = settings or Settings.from_env()
    with open_package(str(uri), settings, tracking_uri) as package:
        manifest = read_manifest(package.path)
        return _load(package.path, manifest, trusted or settings.trust_pickle)


def load_pyfunc(folder: Path, manifest: Manifest, trusted: bool) -> _Predictor:
    return _Predictor(_load(folder, manifest, trusted))


def load_for_mlflow(path: str) -> _Predictor:
    """MLflow's ``_load_pyfunc(path)`` for scikit-learn-API packages (``shipyard.lightgbm``)."""
    folder = Path(path)
    folder = folder.parent if folder.is_file() else folder
    return load_pyfunc(folder, read_manifest(folder), Settings.from_env().trust_pickle)


def _load(folder: Path, manifest: Manifest, trusted: bool) -> Any:
    conf = manifest.flavors.get(FLAVOR)
    if conf is None:
        raise InvalidModel(f"This package has no {FLAVOR} flavor (it has {list(manifest.flavors)})")
    path = package_file(folder, conf.get("data"), "model file (lightgbm.data)")
    if conf.get("model_class", _BOOSTER) != _BOOSTER:  # MLflow's sklearn-API folders
        fmt = str(conf.get("serialization_format") or "cloudpickle")
        if fmt == "skops":
            return load_skops(path, trusted)
        return load_pickle(path, fmt, trusted)
    with invalid_if_corrupt(path, (lgb.basic.LightGBMError, ValueError, UnicodeDecodeError)):
        booster = lgb.Booster(model_file=str(path))
    state = conf.get("sklearn_model")
    return booster if state is None else _rebuild(booster, state)


def _objective(cls: type[Any], state: dict[str, Any]) -> str:
    if cls is lgb.LGBMRegressor:
        return "regression"
    return "multiclass" if len(state.get("classes") or []) > 2 else "binary"


def _rebuild(booster: Any, state: Any) -> Any:
    """The scikit-learn wrapper around ``booster``, as ``fit`` would have left it."""
    if not isinstance(state, dict) or not isinstance(state.get("params"), dict):
        raise InvalidModel("The lightgbm flavor's sklearn_model must hold params")
    cls = _SKLEARN_CLASSES.get(str(state.get("class")).rpartition(".")[2])
    if cls is None:
        raise InvalidModel(f"The lightgbm flavor's sklearn_model class {state.get('class')!r}")
    model = cls(**state["params"])
    n_features = booster.num_feature()
    model.__dict__.update(
        _Booster=booster, fitted_=True, _n_features=n_features, _n_features_in=n_features,
        _objective=state["params"].get("objective") or _objective(cls, state),
        _best_iteration=booster.best_iteration, _best_score={}, _evals_result={},
        _fitted_with_feature_names=False, _other_params={}, _class_weight=None,
    )  # fmt: skip
    if isinstance(model, lgb.LGBMClassifier):
        labels = LabelEncoder().fit(np.asarray(state.get("classes") or []))
        model.__dict__.update(
            _le=labels, _classes=labels.classes_, _n_classes=len(labels.classes_),
            _class_map=dict(zip(labels.classes_, labels.transform(labels.classes_), strict=True)),
        )  # fmt: skip
    return model
