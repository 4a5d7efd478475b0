"""The HTTP tracking server: MLflow's REST API over the tracking service."""

from shipyard.server._run import app_from_env, run_server
from shipyard.server.app import create_app

__all__ = ["app_from_env", "create_app", "run_server"]
