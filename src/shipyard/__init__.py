"""Shipyard: an ML lifecycle platform that speaks MLflow's REST API.

>>> import shipyard
>>> shipyard.set_experiment("demo")          # doctest: +SKIP
>>> with shipyard.start_run():               # doctest: +SKIP
...     shipyard.log_metric("loss", 0.3, step=1)
"""

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
    "set_experiment",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
]
