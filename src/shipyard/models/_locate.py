"""Model URIs: where a package's folder is, and bringing it to this machine.

| URI | resolved through |
|---|---|
| a path, ``file:///...`` | used in place |
| ``runs:/<run_id>/<path>`` | the run's ``artifact_uri`` (a ``Client`` on the tracking URI) |
| ``models:/m-<id>[/<path>]`` | the logged model's ``artifact_uri`` (``Client`` again) |
| ``models:/<name>/<version>``, ``models:/<name>@<alias>`` | the registry's download URI |
| ``models:/<name>/<stage>``, ``models:/<name>/latest`` | the newest version in that stage |
| ``mlflow-artifacts:/...`` | the tracking server's artifact proxy |
| ``s3://``, ``http(s)://.../mlflow-artifacts/artifacts/...`` | the artifacts layer directly |

This module and ``_logging`` are the only parts of ``models/`` that reach up to the tracking
client: a model package itself is a folder and knows nothing of runs, HTTP or databases.
Downloads land in a private temporary folder (mode 0700, so no other user can swap a file in
before it is unpickled: CVE-2025-10279) that lives as long as the loaded model.
"""

from __future__ import annotations

import posixpath
import re
import shutil
import tempfile
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from shipyard import artifacts
from shipyard._text import is_decimal
from shipyard.artifacts import normalize_artifact_path, parse_artifact_uri
from shipyard.client import Client, get_tracking_uri
from shipyard.client._backend import is_remote, local_paths
from shipyard.client._rest import RestStore
from shipyard.entities import LoggedModelOrderBy
from shipyard.errors import (
    EndpointNotFound,
    FeatureNotImplemented,
    InvalidModel,
    InvalidParameter,
    NotFound,
    ShipyardError,
)
from shipyard.settings import Settings

__all__ = ["LocalPackage", "download_package", "open_package", "registered_version"]

_RUN_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
_LOGGED_MODEL_ID = re.compile(r"^m-[A-Za-z0-9]{1,64}$")
_LOGGED_MODELS_API = "/api/2.0/mlflow/logged-models"


@dataclass(frozen=True, slots=True)
class _Remote:
    """A package that lives in an artifact store: ``artifact_uri`` + ``path`` via ``target``."""

    target: str | None  # the tracking server for mlflow-artifacts: URIs, else None
    artifact_uri: str
    path: str
    http: httpx.Client | None = None


class LocalPackage:
    """A package folder on this machine; a downloaded one is removed by ``close()``, or when
    this object is garbage collected (a loaded model keeps it alive)."""

    def __init__(self, path: Path, scratch: Path | None = None) -> None:
        self.path = path
        self._remove = weakref.finalize(self, shutil.rmtree, scratch, True) if scratch else None

    def close(self) -> None:
        if self._remove is not None:
            self._remove()

    def __enter__(self) -> LocalPackage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_package(
    uri: str,
    settings: Settings,
    tracking_uri: str | None = None,
    files: Sequence[str] | None = None,
) -> LocalPackage:
    """The package at ``uri`` as a local folder (only ``files`` of it, if given)."""
    source = _resolve(uri, settings, tracking_uri)
    if isinstance(source, Path):
        return LocalPackage(source)
    scratch = Path(tempfile.mkdtemp(prefix="shipyard-model-"))  # mode 0700
    try:
        return LocalPackage(_fetch(uri, source, scratch, settings, files), scratch)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise


def download_package(
    uri: str | Path, dst: str | Path, settings: Settings, tracking_uri: str | None = None
) -> Path:
    """Copy the package at ``uri`` to folder ``dst`` (absent or empty); returns ``dst``."""
    target = Path(dst).resolve()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise InvalidParameter(f"{str(target)!r} exists and is not an empty folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    source = _resolve(str(uri), settings, tracking_uri)
    if isinstance(source, Path):
        source = _Remote(None, str(source.resolve()), "")
    with tempfile.TemporaryDirectory(prefix=".shipyard-download-", dir=target.parent) as scratch:
        folder = _fetch(str(uri), source, Path(scratch), settings, None)
        if target.exists():
            target.rmdir()
        folder.rename(target)
    return target


def _fetch(
    uri: str, source: _Remote, scratch: Path, settings: Settings, files: Sequence[str] | None
) -> Path:
    def get(path: str) -> Path:
        return artifacts.download_artifacts(
            source.target, source.artifact_uri, path, scratch, http=source.http, s3=settings.s3
        )

    if files is None:
        try:
            folder = get(source.path)
        except NotFound as exc:
            raise InvalidModel(f"There is no model package at {uri!r}: {exc}") from None
    else:
        folder = scratch / source.path
        for name in files:
            try:
                get(posixpath.join(source.path, name) if source.path else name)
            except (ShipyardError, OSError):
                continue  # read_manifest names what is missing
    if not folder.exists():
        raise InvalidModel(f"There is no model package at {uri!r}")
    return folder


def _resolve(uri: str, settings: Settings, tracking_uri: str | None) -> Path | _Remote:
    if uri.startswith("runs:/"):
        return _run_source(uri, settings, tracking_uri)
    if uri.startswith("models:/"):
        return _model_source(uri, settings, tracking_uri)
    parsed = parse_artifact_uri(uri)
    if parsed.scheme == "file":
        return Path(parsed.path)
    if parsed.scheme == artifacts.PROXY_SCHEME:
        client = _client(settings, tracking_uri)
        if not is_remote(client.tracking_uri):
            raise InvalidParameter(
                f"{uri!r} is served by a tracking server: set the tracking URI to that server "
                "(shipyard.set_tracking_uri or SHIPYARD_TRACKING_URI) to load it"
            )
        return _Remote(client.tracking_uri, uri, "", _http(client))
    return _Remote(None, uri, "")


def _client(settings: Settings, tracking_uri: str | None) -> Client:
    return Client(tracking_uri or get_tracking_uri(), settings)


def _http(client: Client) -> httpx.Client | None:
    return client.store.http if isinstance(client.store, RestStore) else None


def _run_source(uri: str, settings: Settings, tracking_uri: str | None) -> Path | _Remote:
    run_id, _, path = uri.removeprefix("runs:/").lstrip("/").partition("/")
    if not _RUN_ID.match(run_id):
        raise InvalidParameter(f"{uri!r} is not a runs:/<run_id>/<path> URI")
    relative = normalize_artifact_path(path)
    client = _client(settings, tracking_uri)
    run = client.get_run(run_id)
    logged = _logged_model_of_run(client, run.info.experiment_id, run_id, relative)
    if logged is not None:
        return logged
    return _artifact_source(client, run.info.artifact_uri, relative)


def _logged_model_of_run(
    client: Client, experiment_id: str, run_id: str, relative: str
) -> Path | _Remote | None:
    """MLflow 3 logs ``runs:/<run>/<name>`` as a logged model named ``name`` with its own
    artifact location; the newest such model wins, else the run's own artifacts are used."""
    name, _, inner = relative.partition("/")
    if not name or "'" in name:  # no quoting games inside a filter string
        return None
    try:
        page = client.store.search_logged_models(
            [experiment_id],
            f"source_run_id = '{run_id}' AND name = '{name}'",
            order_by=[LoggedModelOrderBy("creation_time", ascending=False)],
            max_results=1,
        )
    except (EndpointNotFound, FeatureNotImplemented):  # a server without logged models
        return None
    if not page.items:
        return None
    return _artifact_source(client, page.items[0].artifact_uri, inner)


def _artifact_source(client: Client, artifact_uri: str, path: str) -> Path | _Remote:
    parsed = parse_artifact_uri(artifact_uri)
    if parsed.scheme == "file":
        return Path(parsed.path) / path if path else Path(parsed.path)
    if parsed.scheme == artifacts.PROXY_SCHEME and not is_remote(client.tracking_uri):
        # a local store written by a server that proxied artifacts: they sit under its root
        root = Path(local_paths(client.tracking_uri)[1]) / parsed.path.lstrip("/")
        return root / path if path else root
    target = client.tracking_uri if is_remote(client.tracking_uri) else None
    return _Remote(target, artifact_uri, path, _http(client))


def _model_source(uri: str, settings: Settings, tracking_uri: str | None) -> Path | _Remote:
    ref, _, path = uri.removeprefix("models:/").lstrip("/").partition("/")
    client = _client(settings, tracking_uri)
    if not _LOGGED_MODEL_ID.match(ref):
        return _registered_source(uri, client, settings, tracking_uri)
    try:
        artifact_uri = client.store.get_logged_model(ref).artifact_uri
    except EndpointNotFound:
        raise FeatureNotImplemented(
            f"The tracking server at {client.tracking_uri} does not offer logged models "
            f"({_LOGGED_MODELS_API}); load the model by its run (runs:/<run_id>/<path>)"
        ) from None
    return _artifact_source(client, artifact_uri, normalize_artifact_path(path))


_STAGES = {"none": "None", "staging": "Staging", "production": "Production", "archived": "Archived"}


def registered_version(uri: str, client: Client) -> tuple[str, str]:
    """(name, version) that ``models:/<name>/<version|stage|latest>`` or ``@<alias>`` names."""
    body = uri.removeprefix("models:/").strip("/")
    if "@" in body:
        name, _, alias = body.partition("@")
        return name, client.get_model_version_by_alias(name, alias).version
    name, _, which = body.partition("/")
    if not name or not which or "/" in which:
        raise InvalidParameter(
            f"{uri!r} is not a model URI: use models:/<name>/<version>, models:/<name>@<alias>, "
            "models:/<name>/<stage>, models:/<name>/latest or models:/m-<id>"
        )
    if is_decimal(which):
        return name, which
    stages = [] if which.lower() == "latest" else [_STAGES.get(which.lower(), which)]
    versions = client.get_latest_versions(name, stages)
    if not versions:
        raise NotFound(f"Registered model {name!r} has no version in stage {which!r}")
    return name, max(versions, key=lambda v: int(v.version)).version


def _registered_source(
    uri: str, client: Client, settings: Settings, tracking_uri: str | None
) -> Path | _Remote:
    name, version = registered_version(uri, client)
    download = client.get_model_version_download_uri(name, version)
    if download.startswith("models:/") or download.startswith("runs:/"):
        return _resolve(download, settings, tracking_uri)
    return _artifact_source(client, download, "")
