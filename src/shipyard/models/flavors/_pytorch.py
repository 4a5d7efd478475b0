"""The PyTorch flavor: modules stored as TorchScript, which loads without pickling user code.

``save_model`` scripts the module (``torch.jit.script``), or traces it on the input example when
scripting fails, and writes the archive with ``torch.jit.save``. Loading a TorchScript archive
rebuilds the graph and weights without unpickling Python classes, so it needs no trust. Eager
models that neither script nor trace (arbitrary Python in ``forward``) would need a pickle of
their classes: save them with ``shipyard.pyfunc`` (cloudpickle, loaded only when trusted).

The layout is MLflow's ``pytorch`` flavor (``data/model.pth`` plus ``pickle_module_info.txt``,
``loader_module: mlflow.pytorch``), whose loader reads a TorchScript archive through
``torch.load``; ``serialization_format: torchscript`` tells Shipyard what the file is. MLflow's
pickled eager models (``torch.save`` of the module) load only when trusted.
"""

from __future__ import annotations

import contextlib
import pickle
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import FeatureNotImplemented, InvalidModel, InvalidParameter
from shipyard.models._flavor import missing_dependency
from shipyard.models._locate import open_package
from shipyard.models._logging import ModelInfo, log_saved
from shipyard.models._manifest import Manifest, package_file, read_manifest
from shipyard.models._package import PackageOptions, new_package_folder, write_package
from shipyard.models._signature import Signature
from shipyard.models._trust import invalid_if_corrupt, refuse_untrusted
from shipyard.settings import Settings

try:
    import torch
except ModuleNotFoundError as exc:  # pragma: no cover - exercised with torch hidden
    raise missing_dependency("torch", "pytorch") from exc

__all__ = ["FLAVOR", "LOADER_MODULE", "load_model", "load_pyfunc", "log_model", "save_model"]

FLAVOR = "pytorch"
LOADER_MODULE = "mlflow.pytorch"
DATA_DIR = "data"
MODEL_FILE = "model.pth"
_PICKLE_INFO = ("pickle_module_info.txt", "mlflow.pytorch.pickle_module")  # for MLflow's loader
_CORRUPT = (RuntimeError, ValueError, EOFError, zipfile.BadZipFile, pickle.UnpicklingError)


class _Predictor:
    """A module behind ``LoadedModel``: arrays (or frames) in, NumPy arrays out, no gradients."""

    __slots__ = ("raw",)

    def __init__(self, model: Any) -> None:
        self.raw = model

    def predict(self, data: Any, params: dict[str, Any] | None) -> Any:
        return _predict(self.raw, data)


def _predict(model: Any, data: Any) -> Any:
    array = data.to_numpy() if isinstance(data, pd.DataFrame) else np.asarray(data)
    with torch.no_grad():
        output = model(torch.from_numpy(np.ascontiguousarray(array)))
    return output.numpy() if isinstance(output, torch.Tensor) else output


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
    """Write ``model`` (an ``nn.Module`` or a scripted/traced one) as TorchScript at ``path``."""
    scripted = _to_torchscript(model, input_example)
    folder = new_package_folder(path)
    (folder / DATA_DIR).mkdir()
    with _quiet_jit():
        torch.jit.save(scripted, str(folder / DATA_DIR / MODEL_FILE))
    (folder / DATA_DIR / _PICKLE_INFO[0]).write_text(_PICKLE_INFO[1])
    flavor_conf = {
        "code": None,
        "model_data": DATA_DIR,
        "pytorch_version": str(torch.__version__),
        "serialization_format": "torchscript",
    }
    pyfunc = {
        "loader_module": LOADER_MODULE,
        "data": DATA_DIR,
        "pickle_module_name": _PICKLE_INFO[1],
        "config": {"device": None},
    }
    options = PackageOptions(
        input_example, signature, reference_data, reference_predictions, extra_pip_requirements
    )
    return write_package(
        folder,
        flavor=(FLAVOR, flavor_conf),
        pyfunc=pyfunc,
        modules={"torch", "numpy"},
        options=options,
        predict=lambda example: _predict(scripted, example),
    )


def _to_torchscript(model: Any, example: Any) -> Any:
    """The module as TorchScript: scripted if it scripts, else traced on the example."""
    if isinstance(model, torch.jit.ScriptModule):
        return model
    if not isinstance(model, torch.nn.Module):
        raise InvalidParameter(f"Expected a torch.nn.Module, got {type(model).__name__}")
    model.eval()
    try:
        with _quiet_jit():
            return torch.jit.script(model)
    except Exception as script_error:
        if example is None:
            raise InvalidParameter(
                f"The module does not script ({_first_line(script_error)}); pass input_example= "
                "so it can be traced, or save it with shipyard.pyfunc (needs trust to load)"
            ) from script_error
    with torch.no_grad(), _quiet_jit():
        return torch.jit.trace(model, torch.from_numpy(np.asarray(example)))  # type: ignore[no-untyped-call]


@contextlib.contextmanager
def _quiet_jit() -> Iterator[None]:
    """torch 2.13 marks TorchScript deprecated in favour of torch.export; until Shipyard stores
    torch.export programs (which MLflow's loader also needs), TorchScript is the format that
    loads without trust, so its warning is not the user's to act on."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, message=r".*torch\.jit")
        yield


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


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
    """The module at ``uri`` in eval mode (TorchScript; MLflow's pickled modules when trusted)."""
    settings = settings or Settings.from_env()
    with open_package(str(uri), settings, tracking_uri) as package:
        manifest = read_manifest(package.path)
        return _load(package.path, manifest, trusted or settings.trust_pickle)


def load_pyfunc(folder: Path, manifest: Manifest, trusted: bool) -> _Predictor:
    return _Predictor(_load(folder, manifest, trusted))


def _load(folder: Path, manifest: Manifest, trusted: bool) -> Any:
    conf = manifest.flavors.get(FLAVOR)
    if conf is None:
        raise InvalidModel(f"This package has no {FLAVOR} flavor (it has {list(manifest.flavors)})")
    data = str(conf.get("model_data") or DATA_DIR)
    if (folder / data / "model.pt2").exists() and not (folder / data / MODEL_FILE).exists():
        raise FeatureNotImplemented(
            "This PyTorch model was saved with torch.export (model.pt2), which Shipyard cannot "
            "load yet; save it as TorchScript (shipyard.pytorch.save_model) instead"
        )
    path = package_file(folder, f"{data}/{MODEL_FILE}", "model file (pytorch)")
    with invalid_if_corrupt(path, _CORRUPT):
        if _is_torchscript(path):
            with _quiet_jit():
                model = torch.jit.load(str(path), map_location="cpu")  # type: ignore[no-untyped-call]
        elif not trusted:
            raise refuse_untrusted(f"This PyTorch model is a pickled module ({path.name})")
        else:
            model = torch.load(str(path), map_location="cpu", weights_only=False)
    model.eval()
    return model


def _is_torchscript(path: Path) -> bool:
    """A TorchScript archive is a zip holding compiled ``code/``; ``torch.save`` has none. A file
    that starts as a zip but does not open as one is corrupt (``BadZipFile``)."""
    with path.open("rb") as handle:
        if handle.read(2) != b"PK":
            return False
    with zipfile.ZipFile(path) as archive:
        return any(name.split("/")[1:2] == ["code"] for name in archive.namelist())
