"""Choosing a backend from a tracking URI.

``http(s)://`` talks to a server; anything else (``sqlite:///...``, ``postgresql://...``, a folder
path, ``file:///...``) opens the database in-process behind the same tracking service the server
uses. A folder holds ``shipyard.db`` and an ``artifacts/`` folder.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from shipyard.settings import DEFAULT_DATA_DIR, Settings
from shipyard.store._protocol import TrackingStore

__all__ = ["is_remote", "local_paths", "open_backend", "open_registry_backend"]

if TYPE_CHECKING:
    from shipyard.client._rest_registry import RestRegistry
    from shipyard.registry import RegistryService

    RegistryBackend = RegistryService | RestRegistry

_CACHE: dict[str, TrackingStore] = {}
_REGISTRIES: dict[str, RegistryBackend] = {}
_LOCK = threading.Lock()


def is_remote(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


def local_paths(uri: str) -> tuple[str, str]:
    """(database URI, default artifact root) for a local tracking URI."""
    if "://" in uri and not uri.startswith("file://"):
        if uri.startswith("sqlite:///"):
            db_file = Path(uri.removeprefix("sqlite:///"))
            return uri, str((db_file.parent / "artifacts").resolve())
        return uri, str((DEFAULT_DATA_DIR / "artifacts").resolve())
    folder = Path(uri.removeprefix("file://")).resolve()
    return f"sqlite:///{folder / 'shipyard.db'}", str(folder / "artifacts")


def _open(uri: str, settings: Settings) -> TrackingStore:
    if is_remote(uri):
        from shipyard.client._rest import RestStore

        return RestStore(uri, settings)
    from shipyard.store.sql import SqlStore
    from shipyard.tracking import TrackingService

    db_uri, artifact_root = local_paths(uri)
    return TrackingService(SqlStore(db_uri, artifact_root), settings.limits)


def open_backend(uri: str, settings: Settings) -> TrackingStore:
    """One backend per URI per process (engines and HTTP connections are pooled)."""
    with _LOCK:
        if uri not in _CACHE:
            _CACHE[uri] = _open(uri, settings)
        return _CACHE[uri]


def open_registry_backend(uri: str, settings: Settings) -> RegistryBackend:
    """The model registry behind a tracking URI: a server's routes, or the local database."""
    tracking = open_backend(uri, settings)
    with _LOCK:
        if uri not in _REGISTRIES:
            if is_remote(uri):
                from shipyard.client._rest import RestStore
                from shipyard.client._rest_registry import RestRegistry

                assert isinstance(tracking, RestStore)
                _REGISTRIES[uri] = RestRegistry(uri, tracking.http)
            else:
                from shipyard.registry import open_registry
                from shipyard.tracking import TrackingService

                assert isinstance(tracking, TrackingService)
                _REGISTRIES[uri] = open_registry(tracking, local_paths(uri)[1], settings)
        return _REGISTRIES[uri]
