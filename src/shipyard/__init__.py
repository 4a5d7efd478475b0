"""Shipyard: an ML lifecycle platform that speaks MLflow's REST API.

>>> import shipyard
>>> shipyard.set_experiment("demo")          # doctest: +SKIP
>>> with shipyard.start_run():               # doctest: +SKIP
...     shipyard.log_metric("loss", 0.3, step=1)
"""

import importlib
from typing import Any

from shipyard._version import __version__
from shipyard.client import (
    ActiveRun,
    Client,
    active_run,
    download_artifacts,
    end_run,
    flush,
    get_tracking_uri,
    list_artifacts,
    log_artifact,
    log_artifacts,
    log_dict,
    log_figure,
    log_input,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    log_table,
    log_text,
    register_model,
    set_experiment,
    set_tag,
    set_tags,
    set_tracking_uri,
    start_run,
)

__all__ = [
    "ActiveRun",
    "Client",
    "__version__",
    "active_run",
    "download_artifacts",
    "end_run",
    "flush",
    "get_tracking_uri",
    "list_artifacts",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_table",
    "log_text",
    "register_model",
    "set_experiment",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
]


def __getattr__(name: str) -> Any:
    """``shipyard.sklearn`` and ``shipyard.pyfunc`` on first use, so ``import shipyard`` stays
    free of scikit-learn and skops."""
    if name in ("pyfunc", "sklearn"):
        return importlib.import_module(f"shipyard.{name}")
    raise AttributeError(f"module 'shipyard' has no attribute {name!r}")
