"""Model packages: the MLmodel manifest, signatures, environments, reference profiles, and one
``load_model(uri).predict(data)`` for every flavor. Flavors live in ``flavors/``; the public
modules are ``shipyard.pyfunc``, ``shipyard.sklearn``, ``shipyard.xgboost``,
``shipyard.lightgbm``, ``shipyard.pytorch`` and ``shipyard.onnx``."""

from shipyard.models._describe import ModelDescription, describe_model
from shipyard.models._locate import download_package as download_model
from shipyard.models._logging import ModelInfo
from shipyard.models._manifest import FORMAT_VERSION, Manifest, read_manifest
from shipyard.models._profile import PROFILE_FILE, build_profile
from shipyard.models._pyfunc import PyFuncModel, load_model
from shipyard.models._signature import (
    ColSpec,
    ParamSpec,
    Schema,
    Signature,
    TensorSpec,
    describe_spec,
    infer_signature,
)

__all__ = [
    "FORMAT_VERSION",
    "PROFILE_FILE",
    "ColSpec",
    "Manifest",
    "ModelDescription",
    "ModelInfo",
    "ParamSpec",
    "PyFuncModel",
    "Schema",
    "Signature",
    "TensorSpec",
    "build_profile",
    "describe_model",
    "describe_spec",
    "download_model",
    "infer_signature",
    "load_model",
    "read_manifest",
]
