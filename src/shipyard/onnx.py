"""``shipyard.onnx``: save, log and load ONNX models, served with onnxruntime (extra ``onnx``).

``model.onnx`` is operators and weights, no Python code, so it loads without trust; the layout
is MLflow's ``onnx`` flavor (``mlflow.onnx.load_model`` reads it).
"""

from shipyard.models._logging import ModelInfo
from shipyard.models.flavors._onnx import load_model, log_model, save_model

__all__ = ["ModelInfo", "load_model", "log_model", "save_model"]
