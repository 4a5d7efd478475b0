"""Where a model version's files may come from, and where a client downloads them.

A version's ``source`` is refused unless it names something the server already owns: a logged
model (``models:/m-<id>``), a run's artifacts (``runs:/<run_id>/<path>``), the artifact proxy
(``mlflow-artifacts:/...``) or a location under the artifact root or the source run's or logged
model's own artifact location. Paths are percent-decoded until stable and refused if they hold
``..`` segments, NUL, ``#``, ``?`` or backslashes, the tricks behind CVE-2023-1177, CVE-2023-2356,
CVE-2023-6909, CVE-2024-3573 and CVE-2025-11201 (see docs/registry.md).
"""

from __future__ import annotations

import posixpath
import re
from urllib.parse import unquote, urlsplit

from shipyard.entities import LoggedModelOrderBy
from shipyard.errors import InvalidParameter, NotFound
from shipyard.store._protocol import TrackingStore

__all__ = ["check_source", "download_uri", "logged_model_ref"]

_LOGGED_MODEL = re.compile(r"^m-[0-9a-f]{32}$")
_RUN_ID = re.compile(r"^[a-zA-Z0-9][\w\-]{0,255}$")
_MAX_DECODE_ROUNDS = 10


def _refuse(source: str, why: str) -> InvalidParameter:
    return InvalidParameter(
        f"Invalid model version source '{source}': {why}. A source must be models:/<model_id>, "
        "runs:/<run_id>/<path>, mlflow-artifacts:/<path>, or a location inside the server's "
        "artifact root or the source run's artifacts."
    )


def _decoded(source: str) -> str:
    text = source
    for _ in range(_MAX_DECODE_ROUNDS):
        decoded = unquote(text)
        if decoded == text:
            return text
        text = decoded
    raise _refuse(source, "it is percent-encoded too many times")


def _check_path_text(source: str, path: str) -> None:
    for bad, why in (("\x00", "NUL byte"), ("\\", "backslash"), ("#", "'#' fragment")):
        if bad in path:
            raise _refuse(source, f"it contains a {why}")
    if any(part == ".." for part in path.split("/")):
        raise _refuse(source, "it contains a '..' path segment")


def logged_model_ref(source: str) -> str | None:
    """The logged-model id of a ``models:/m-<id>`` source (None for anything else)."""
    if not source.startswith("models:/"):
        return None
    ref = source.removeprefix("models:/").strip("/")
    return ref if _LOGGED_MODEL.match(ref) else None


def _normal_location(uri: str) -> tuple[str, str]:
    """(scheme+authority, normalised path) of a file path or URI, for prefix checks."""
    if "://" not in uri and not uri.startswith("file:"):
        return "file", posixpath.normpath(uri)
    parts = urlsplit(uri)
    scheme = parts.scheme or "file"
    path = posixpath.normpath(parts.path or "/")
    return f"{scheme}://{parts.netloc}" if scheme != "file" else "file", path


def _inside(uri: str, root: str) -> bool:
    where, path = _normal_location(uri)
    root_where, root_path = _normal_location(root)
    if where != root_where:
        return False
    return path == root_path or path.startswith(root_path.rstrip("/") + "/")


def check_source(
    source: str,
    tracking: TrackingStore,
    *,
    run_id: str | None,
    model_id: str | None,
    artifact_roots: tuple[str, ...],
) -> None:
    """Refuse a source that points outside what the server owns (see the module docstring)."""
    if not isinstance(source, str) or not source.strip():
        raise InvalidParameter("A model version needs a non-empty 'source'.")
    text = _decoded(source)
    if "?" in text:
        raise _refuse(source, "it contains a query string")
    parts = urlsplit(text)
    _check_path_text(source, parts.path)
    if parts.fragment or "#" in text:
        raise _refuse(source, "it contains a '#' fragment")
    ref = logged_model_ref(text)
    if text.startswith("models:/"):
        if ref is None:
            raise _refuse(source, "models:/ sources must name a logged model (models:/m-<id>)")
        try:
            tracking.get_logged_model(ref)
        except NotFound:
            raise _refuse(source, f"logged model {ref} does not exist") from None
        return
    if text.startswith("runs:/"):
        rid = text.removeprefix("runs:/").lstrip("/").partition("/")[0]
        if not _RUN_ID.match(rid):
            raise _refuse(source, "runs:/ sources look like runs:/<run_id>/<path>")
        try:
            tracking.get_run_info(rid)
        except NotFound:
            raise _refuse(source, f"run {rid} does not exist") from None
        return
    if parts.scheme == "mlflow-artifacts":
        if parts.netloc:
            raise _refuse(source, "mlflow-artifacts:/ sources must not name a host")
        return
    allowed = list(artifact_roots)
    if run_id:
        try:
            allowed.append(tracking.get_run_info(run_id).artifact_uri)
        except NotFound:
            raise _refuse(source, f"run {run_id} does not exist") from None
    if model_id:
        allowed.append(tracking.get_logged_model(model_id).artifact_uri)
    local = [r for r in allowed if r and not r.startswith("mlflow-artifacts:")]
    if not any(_inside(text, root) for root in local):
        raise _refuse(source, "it is outside every artifact location this server owns")


def download_uri(source: str, tracking: TrackingStore) -> str:
    """Where a client fetches a version's files: the logged model's or run's artifact URI."""
    ref = logged_model_ref(source)
    if ref is not None:
        return tracking.get_logged_model(ref).artifact_uri
    if source.startswith("runs:/"):
        rid, _, path = source.removeprefix("runs:/").lstrip("/").partition("/")
        path = path.strip("/")
        run = tracking.get_run_info(rid)
        logged = _logged_model_of_run(tracking, run.experiment_id, rid, path)
        if logged is not None:
            return logged
        base = run.artifact_uri.rstrip("/")
        return f"{base}/{path}" if path else base
    return source


def _logged_model_of_run(
    tracking: TrackingStore, experiment_id: str, run_id: str, path: str
) -> str | None:
    """MLflow 3 keeps ``runs:/<run>/<name>`` as a logged model named ``name``: its location."""
    name, _, inner = path.partition("/")
    if not name or "'" in name:
        return None
    page = tracking.search_logged_models(
        [experiment_id],
        f"source_run_id = '{run_id}' AND name = '{name}'",
        order_by=[LoggedModelOrderBy("creation_time", ascending=False)],
        max_results=1,
    )
    if not page.items:
        return None
    base = page.items[0].artifact_uri.rstrip("/")
    return f"{base}/{inner}" if inner else base
