"""``shipyard.lightgbm``: save, log and load LightGBM models (extra ``lightgbm``).

Boosters and ``LGBMClassifier``/``LGBMRegressor`` are stored in LightGBM's own text format, which
loads without trust, in MLflow's ``lightgbm`` flavor layout.
"""

from shipyard.models._logging import ModelInfo
from shipyard.models.flavors._lightgbm import load_for_mlflow, load_model, log_model, save_model

# MLflow's loader protocol: ``mlflow.pyfunc.load_model`` imports the MLmodel's loader_module
# (``shipyard.lightgbm`` for scikit-learn-API models) and calls its ``_load_pyfunc(path)``.
_load_pyfunc = load_for_mlflow

__all__ = ["ModelInfo", "load_model", "log_model", "save_model"]
