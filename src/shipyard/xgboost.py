"""``shipyard.xgboost``: save, log and load XGBoost models (``pip install 'shipyard-ml[xgboost]'``).

Models are stored in XGBoost's own UBJSON (or JSON) format, which loads without trust, in
MLflow's ``xgboost`` flavor layout (``mlflow.xgboost.load_model`` reads them).
"""

from shipyard.models._logging import ModelInfo
from shipyard.models.flavors._xgboost import load_model, log_model, save_model

__all__ = ["ModelInfo", "load_model", "log_model", "save_model"]
