"""Starting the tracking server: check the database once, then hand over to uvicorn's workers.

Workers are separate processes that build their app from the environment (``app_from_env``), so
the parent writes its configuration into ``SHIPYARD_*`` variables that ``Settings.from_env``
reads back in each worker. Workers share nothing but the database.
"""

from __future__ import annotations

import gc
import sys
from dataclasses import replace
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from shipyard.errors import SchemaOutOfDate
from shipyard.server.app import create_app
from shipyard.settings import Settings
from shipyard.store.sql import SqlStore, WalCheckpointer, make_engine
from shipyard.tracking import TrackingService

__all__ = ["PROXY_ARTIFACT_ROOT", "app_from_env", "run_server", "tracking_artifact_root"]

PROXY_ARTIFACT_ROOT = "mlflow-artifacts:/"
_PROTOCOL = "shipyard.server._protocol:NoDelayHTTPProtocol"
_KEEP_ALIVE_SECONDS = 75  # above common client pool idle times, so reuse rarely races a close


def tracking_artifact_root(settings: Settings) -> str:
    """The root new experiments get: the proxy URI when serving artifacts, else the real root.

    Handing out ``mlflow-artifacts:/<id>`` makes clients upload through this server (as
    MLflow's ``--serve-artifacts`` does) instead of writing to a path only the server can see.
    """
    return PROXY_ARTIFACT_ROOT if settings.serve_artifacts else settings.artifact_root


def absolute_root(root: str) -> str:
    """A local folder made absolute (workers may not share the parent's cwd); URIs unchanged."""
    if "://" in root:
        return root
    return str(Path(root).expanduser().resolve())


def _open_service(settings: Settings) -> TrackingService:
    uri = settings.backend_store_uri
    engine = make_engine(uri, background_checkpoints=True)
    store = SqlStore(
        uri,
        tracking_artifact_root(settings),
        engine=engine,
        kept_bodies_bytes=settings.kept_bodies_mb << 20,
    )
    WalCheckpointer(engine).start()  # SQLite only; a daemon thread for the worker's life
    return TrackingService(store, settings.limits)


# A page of 1,000 runs allocates ~100,000 dicts that all live until the response is sent; with
# the default threshold (700) the collector runs over and over during it, each time walking the
# objects that survived. A higher threshold, and freezing what start-up built (modules, the app)
# out of the collector's sight, took 5,000 runs read in pages of 1,000 from 414 to 317 ms.
_GC_THRESHOLD = (10_000, 50, 50)


def tune_gc() -> None:
    """Make the cyclic collector cheap for a long-running server (call once, after start-up)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*_GC_THRESHOLD)


def app_from_env() -> FastAPI:
    """uvicorn's factory: one app per worker process, configured from the environment."""
    settings = Settings.from_env()
    app = create_app(settings, _open_service(settings))
    tune_gc()
    return app


def _check_database(settings: Settings) -> None:
    """Create the schema in a new database, refuse an out-of-date one, before any worker starts."""
    try:
        store = SqlStore(settings.backend_store_uri, tracking_artifact_root(settings))
    except SchemaOutOfDate as exc:
        print(f"shipyard server: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    store.engine.dispose()


def run_server(
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = 5000,
    workers: int = 1,
    backend_store_uri: str | None = None,
    default_artifact_root: str | None = None,
    serve_artifacts: bool = True,
) -> None:
    """Serve until interrupted. ``None`` arguments keep the value ``settings`` already has."""
    settings = replace(
        settings,
        backend_store_uri=backend_store_uri or settings.backend_store_uri,
        artifact_root=absolute_root(default_artifact_root or settings.artifact_root),
        serve_artifacts=serve_artifacts,
    )
    _check_database(settings)
    settings.export()
    uvicorn.run(
        "shipyard.server._run:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=max(1, workers),
        http=_PROTOCOL,
        loop="auto",  # uvloop when installed
        access_log=False,
        log_level="info",
        timeout_keep_alive=_KEEP_ALIVE_SECONDS,
    )
