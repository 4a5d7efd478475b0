"""``shipyard.pyfunc``: load any model package behind one ``predict()``, and custom models.

>>> model = shipyard.pyfunc.load_model("runs:/<run_id>/model")   # doctest: +SKIP
>>> model.predict(frame)                                           # doctest: +SKIP

Custom models subclass ``PythonModel``; they are stored with cloudpickle, so loading them runs
code and needs ``trusted=True`` (or ``SHIPYARD_TRUST_PICKLE=true``).
"""

from shipyard.models._logging import ModelInfo
from shipyard.models._pyfunc import PyFuncModel, load_for_mlflow, load_model
from shipyard.models._signature import Signature, infer_signature
from shipyard.models.flavors._python_model import (
    PythonModel,
    PythonModelContext,
    log_model,
    save_model,
)

# MLflow's loader protocol: ``mlflow.pyfunc.load_model`` imports the MLmodel's loader_module
# (``shipyard.pyfunc`` for custom models saved by Shipyard) and calls its ``_load_pyfunc(path)``.
_load_pyfunc = load_for_mlflow

__all__ = [
    "ModelInfo",
    "PyFuncModel",
    "PythonModel",
    "PythonModelContext",
    "Signature",
    "infer_signature",
    "load_model",
    "log_model",
    "save_model",
]
