"""The tracking server's ASGI app: MLflow's REST API in front of a tracking service.

Every route is mounted under ``/api/2.0/mlflow`` (what the Python client calls) and again under
``/ajax-api/2.0/mlflow`` (what MLflow's web UI calls). The artifact layer plugs in through
``extra_routers`` (already prefixed, e.g. ``/api/2.0/mlflow-artifacts``); when none are passed,
``create_app`` mounts the artifact proxy built from ``settings``.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, FastAPI

from shipyard._version import __version__
from shipyard.server import _artifacts, _experiments, _logged_models, _meta, _metrics, _runs
from shipyard.server._artifact_proxy import create_router
from shipyard.server._errors import install_error_handlers
from shipyard.settings import Settings
from shipyard.store import TrackingStore

__all__ = ["API_PREFIXES", "create_app"]

API_PREFIXES = ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow")
_TRACKING_ROUTERS = (
    _experiments.router,
    _runs.router,
    _metrics.router,
    _artifacts.router,
    _logged_models.router,
)


def create_app(
    settings: Settings,
    service: TrackingStore,
    extra_routers: Sequence[APIRouter] | None = None,
) -> FastAPI:
    """Build the app over ``service`` (a ``TrackingService`` in production).

    ``extra_routers=None`` mounts the artifact proxy; pass ``()`` for no artifact routes at all.
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
    routers = (create_router(settings),) if extra_routers is None else extra_routers
    # Matched first: their prefixes overlap no tracking route, and a small artifact upload then
    # skips ~80 route checks (~15% of its server time); tracking calls pay a few failed ones.
    for router in routers:
        app.include_router(router)
    app.include_router(_meta.router)
    for prefix in API_PREFIXES:
        for router in _TRACKING_ROUTERS:
            app.include_router(router, prefix=prefix, include_in_schema=prefix == API_PREFIXES[0])
    return app
