"""The tracking server's ASGI app: MLflow's REST API in front of a tracking service.

Every route is mounted under ``/api/2.0/mlflow`` (what the Python client calls) and again under
``/ajax-api/2.0/mlflow`` (what MLflow's web UI calls). The artifact layer plugs in through
``extra_routers`` (already prefixed, e.g. ``/api/2.0/mlflow-artifacts``); when none are passed,
``create_app`` mounts the artifact proxy built from ``settings``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from shipyard._version import __version__
from shipyard.errors import InvalidParameter
from shipyard.registry import Dispatcher, RegistryService, open_registry
from shipyard.server import (
    _artifacts,
    _experiments,
    _gates,
    _governance,
    _logged_models,
    _meta,
    _metrics,
    _registry,
    _runs,
)
from shipyard.server._artifact_proxy import create_router, disabled_router
from shipyard.server._errors import install_error_handlers
from shipyard.server._fastlane import FastLane, QuickMode, lane_routes
from shipyard.server._http import MAX_BODY_BYTES
from shipyard.settings import Settings
from shipyard.store import LoopIO, TrackingStore
from shipyard.tracking import TrackingService

__all__ = ["API_PREFIXES", "create_app"]

API_PREFIXES = ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow")
_TRACKING_ROUTERS = (
    _experiments.router,
    _runs.router,
    _metrics.router,
    _artifacts.router,
    _logged_models.router,
)


def _default_registry(settings: Settings, service: TrackingStore) -> RegistryService | None:
    if not isinstance(service, TrackingService):
        return None
    try:
        return open_registry(service, settings.artifact_root, settings)
    except InvalidParameter:  # not SQL-backed: no registry
        return None


def _quick_mode(settings: Settings, service: TrackingStore) -> QuickMode:
    """How ``FastLane`` runs the quick writes (see ``quick``)."""
    if isinstance(service, LoopIO) and service.loop_io:
        return "loop"
    return "inline" if settings.backend_store_uri.startswith("sqlite") else "thread"


def create_app(
    settings: Settings,
    service: TrackingStore,
    extra_routers: Sequence[APIRouter] | None = None,
    registry: RegistryService | None = None,
) -> FastAPI:
    """Build the app over ``service`` (a ``TrackingService`` in production).

    ``extra_routers=None`` mounts the artifact proxy (or, with ``serve_artifacts`` off, routes
    that answer 503 saying so); pass ``()`` for no artifact routes at all.
    The model registry shares the tracking database; ``registry=None`` opens it from
    ``service`` (no registry routes when the service is not SQL-backed). While the app runs, a
    background dispatcher delivers registry webhooks.
    """
    registry = registry or _default_registry(settings, service)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        dispatcher = None
        if registry is not None:
            dispatcher = Dispatcher(registry.store, allow_private=settings.webhooks_allow_private)
            dispatcher.start()
            app.state.dispatcher = dispatcher
        try:
            yield
        finally:
            if dispatcher is not None:
                dispatcher.stop()

    app = FastAPI(
        title="Shipyard tracking server",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = service
    app.state.registry = registry
    install_error_handlers(app)
    if extra_routers is not None:
        routers = extra_routers
    elif settings.serve_artifacts:
        routers = (create_router(settings),)
    else:
        routers = (disabled_router(),)
    # Matched first: their prefixes overlap no tracking route, and a small artifact upload then
    # skips ~80 route checks (~15% of its server time); tracking calls pay a few failed ones.
    for router in routers:
        app.include_router(router)
    app.include_router(_meta.router)
    tracking_routers: tuple[APIRouter, ...] = _TRACKING_ROUTERS
    if registry is not None:
        tracking_routers = (*tracking_routers, _registry.router)
        app.include_router(_governance.router)
        app.include_router(_gates.router)
        if settings.inference_log:
            from shipyard.server._monitoring import monitoring_router  # scipy: only when used

            app.include_router(
                monitoring_router(
                    settings.inference_log,
                    settings.monitoring_dir,
                    tracking_uri=settings.backend_store_uri,
                    s3=settings.s3,
                )
            )
    for prefix in API_PREFIXES:
        for router in tracking_routers:
            app.include_router(router, prefix=prefix, include_in_schema=prefix == API_PREFIXES[0])
    lanes = lane_routes(API_PREFIXES, tracking_routers)
    app.add_middleware(
        FastLane, routes=lanes, max_body=MAX_BODY_BYTES, quick_mode=_quick_mode(settings, service)
    )
    return app
