"""The tracking server's ASGI app: MLflow's REST API in front of a tracking service.

Every route is mounted under ``/api/2.0/mlflow`` (what the Python client calls) and again under
``/ajax-api/2.0/mlflow`` (what MLflow's web UI calls). The artifact layer plugs in through
``extra_routers`` (already prefixed, e.g. ``/api/2.0/mlflow-artifacts``); when none are passed,
``create_app`` mounts ``create_router(settings)`` from the artifact proxy module if it exists.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence

from fastapi import APIRouter, FastAPI

from shipyard._version import __version__
from shipyard.server import _artifacts, _experiments, _logged_models, _meta, _metrics, _runs
from shipyard.server._errors import install_error_handlers
from shipyard.settings import Settings
from shipyard.store import TrackingStore

__all__ = ["API_PREFIXES", "create_app", "optional_artifact_router"]

API_PREFIXES = ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow")
_TRACKING_ROUTERS = (
    _experiments.router,
    _runs.router,
    _metrics.router,
    _artifacts.router,
    _logged_models.router,
)


_ARTIFACT_ROUTER_MODULES = ("shipyard.server._artifact_proxy", "shipyard.artifacts")


def optional_artifact_router(settings: Settings) -> APIRouter | None:
    """The artifact layer's router: the first of ``_ARTIFACT_ROUTER_MODULES`` with a
    ``create_router(settings)``.

    Looked up by name because that layer is built separately and is optional here: without it
    the tracking API still works, and artifact calls answer ENDPOINT_NOT_FOUND.
    """
    for name in _ARTIFACT_ROUTER_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and name.startswith(exc.name):
                continue  # the module itself is absent, not something it imports
            raise
        factory: Callable[[Settings], APIRouter] | None = getattr(module, "create_router", None)
        if factory is not None:
            return factory(settings)
    return None


def create_app(
    settings: Settings,
    service: TrackingStore,
    extra_routers: Sequence[APIRouter] | None = None,
) -> FastAPI:
    """Build the app over ``service`` (a ``TrackingService`` in production).

    ``extra_routers=None`` means "look for the artifact layer"; pass ``()`` for none at all.
    """
    app = FastAPI(
        title="Shipyard tracking server",
        version=__version__,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.store = service
    install_error_handlers(app)
    routers: Sequence[APIRouter]
    if extra_routers is None:
        found = optional_artifact_router(settings)
        routers = () if found is None else (found,)
    else:
        routers = extra_routers
    # Matched first: their prefixes overlap no tracking route, and a small artifact upload then
    # skips ~80 route checks (~15% of its server time); tracking calls pay a few failed ones.
    for router in routers:
        app.include_router(router)
    app.include_router(_meta.router)
    for prefix in API_PREFIXES:
        for router in _TRACKING_ROUTERS:
            app.include_router(router, prefix=prefix, include_in_schema=prefix == API_PREFIXES[0])
    return app
