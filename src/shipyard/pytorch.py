"""``shipyard.pytorch``: save, log and load PyTorch modules (extra ``pytorch``).

Modules are stored as TorchScript (scripted, or traced on the input example), which loads
without trust, in MLflow's ``pytorch`` flavor layout (``mlflow.pytorch.load_model`` reads them).
"""

from shipyard.models._logging import ModelInfo
from shipyard.models.flavors._pytorch import load_model, log_model, save_model

__all__ = ["ModelInfo", "load_model", "log_model", "save_model"]
