"""The Python SDK: the fluent API and ``Client``."""

from shipyard.client._client import Client
from shipyard.client._fluent import (
    ActiveRun,
    active_run,
    end_run,
    flush,
    get_tracking_uri,
    log_input,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    set_experiment,
    set_tag,
    set_tags,
    set_tracking_uri,
    start_run,
)

__all__ = [
    "ActiveRun",
    "Client",
    "active_run",
    "end_run",
    "flush",
    "get_tracking_uri",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "set_experiment",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
]
