"""``shipyard.sklearn``: save, log and load scikit-learn estimators and pipelines.

Packages use MLflow's ``sklearn`` flavor layout (``mlflow.sklearn.load_model`` reads them) and
skops by default, which loads without running pickle's code.
"""

from shipyard.models._logging import ModelInfo
from shipyard.models.flavors._sklearn import load_model, log_model, save_model

__all__ = ["ModelInfo", "load_model", "log_model", "save_model"]
