"""Building a ``RegistryService`` over a tracking service's SQL database."""

from __future__ import annotations

import posixpath

from shipyard.artifacts import ArtifactRepository, repository_for_uri
from shipyard.errors import FeatureNotImplemented, InvalidParameter, NotFound
from shipyard.registry._lineage import ReadArtifact
from shipyard.registry._service import RegistryService
from shipyard.settings import Settings
from shipyard.store.sql import SqlStore
from shipyard.store.sql._registry import SqlRegistryStore
from shipyard.tracking import TrackingService

__all__ = ["open_registry"]

_MAX_READ = 1 << 20  # requirements.txt and friends: small files only


def _reader(artifact_root: str, settings: Settings) -> ReadArtifact:
    try:
        root: ArtifactRepository | None = repository_for_uri(artifact_root, s3=settings.s3)[0]
    except (FeatureNotImplemented, InvalidParameter):
        root = None

    def read(uri: str) -> bytes | None:
        parent, _, name = uri.rstrip("/").rpartition("/")
        try:
            repo, base = repository_for_uri(parent, root, s3=settings.s3)
            data = b""
            for chunk in repo.open_stream(posixpath.join(base, name) if base else name):
                data += chunk
                if len(data) > _MAX_READ:
                    return None
            return data
        except (NotFound, FeatureNotImplemented, InvalidParameter, OSError):
            return None

    return read


def open_registry(
    tracking: TrackingService, artifact_root: str, settings: Settings
) -> RegistryService:
    """The registry on the same database as ``tracking`` (which must be SQL-backed).

    ``artifact_root`` is the folder or bucket the server owns: version sources must lie inside
    it (or be a run's, a logged model's or the proxy's), and lineage reads packages from it.
    """
    store = tracking.store
    if not isinstance(store, SqlStore):
        raise InvalidParameter("The model registry needs a SQL tracking store.")
    return RegistryService(
        SqlRegistryStore(store.engine),
        tracking,
        artifact_roots=(artifact_root,),
        read_artifact=_reader(artifact_root, settings),
        limits=settings.limits,
        allow_private_webhooks=settings.webhooks_allow_private,
    )
