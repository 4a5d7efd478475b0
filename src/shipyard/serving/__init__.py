"""The scoring server: MLflow's ``/invocations`` protocol and Open Inference Protocol v2 over one
model (or a registry alias it follows), with Prometheus metrics and an inference log."""

from shipyard.serving._app import build_app
from shipyard.serving._config import ServingConfig
from shipyard.serving._errors import PayloadTooLarge, UnsupportedMediaType, WebhookRejected
from shipyard.serving._follow import AliasFollower, ModelHolder
from shipyard.serving._run import run_scoring_server
from shipyard.serving._source import (
    DictResolver,
    ModelRef,
    RegistryResolver,
    Resolver,
    Served,
    parse_model_uri,
)

__all__ = [
    "AliasFollower",
    "DictResolver",
    "ModelHolder",
    "ModelRef",
    "PayloadTooLarge",
    "RegistryResolver",
    "Resolver",
    "Served",
    "ServingConfig",
    "UnsupportedMediaType",
    "WebhookRejected",
    "build_app",
    "parse_model_uri",
    "run_scoring_server",
]
