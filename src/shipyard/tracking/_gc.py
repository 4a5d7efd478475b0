"""Garbage collection: permanently remove deleted runs, experiments and logged models, their
artifacts, and multipart uploads that were started and never completed.

A run, logged model or experiment that a registered model version still uses is kept (and
reported with the version), whatever its state: deleting it would leave the version without
files. Delete the version first.

Artifacts are deleted through the artifact layer, so a local folder and S3 are collected alike.
Every deletion goes through the repository of the artifact root (the server's
``--artifacts-destination``): a run's ``mlflow-artifacts:`` URI is a path below it, and a
``file:`` or ``s3://`` URI counts only if it lies below it too. Whatever the database says,
nothing outside the artifact root is deleted; such locations are reported as skipped. The bytes
freed are summed from listings just before each deletion.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from shipyard.artifacts import (
    PROXY_SCHEME,
    ArtifactRepository,
    MultipartArtifactRepository,
    normalize_artifact_path,
    parse_artifact_uri,
    repository_for_uri,
)
from shipyard.errors import NotFound, ShipyardError
from shipyard.settings import S3Settings
from shipyard.store.sql import SqlStore

__all__ = ["ArtifactRoot", "GcReport", "collect_garbage"]


#: Uploads untouched this long are abandoned (a client died between create and complete).
DEFAULT_UPLOAD_AGE_S = 24 * 3600.0


@dataclass(slots=True)
class GcReport:
    runs: list[str] = field(default_factory=list)
    experiments: list[str] = field(default_factory=list)
    logged_models: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    stale_uploads: int = 0
    bytes_freed: int = 0
    skipped_artifacts: list[str] = field(default_factory=list)
    failed_artifacts: list[str] = field(default_factory=list)


class ArtifactRoot:
    """The artifact root's repository, and which artifact URIs lie below it."""

    def __init__(self, uri: str, s3: S3Settings | None = None) -> None:
        self._root = parse_artifact_uri(uri)
        self.repo: ArtifactRepository = repository_for_uri(uri, s3=s3)[0]

    def relative(self, uri: str) -> str | None:
        """``uri`` as a path below the root (never the root itself), or None if elsewhere."""
        try:
            parsed = parse_artifact_uri(uri)
            if parsed.scheme == PROXY_SCHEME and not parsed.netloc:
                return parsed.path or None
            if parsed.scheme != self._root.scheme:
                return None
            if parsed.scheme == "file":
                return self._below_folder(parsed.path)
            if parsed.scheme == "s3" and parsed.netloc == self._root.netloc:
                return self._below_prefix(parsed.path)
        except ShipyardError:  # an unparseable location is never deleted
            return None
        return None

    def _below_folder(self, path: str) -> str | None:
        root, target = Path(self._root.path).resolve(), Path(path).resolve()
        if root not in target.parents:
            return None
        return normalize_artifact_path(target.relative_to(root).as_posix()) or None

    def _below_prefix(self, key: str) -> str | None:
        prefix = self._root.path
        if prefix and not key.startswith(prefix + "/"):
            return None
        return normalize_artifact_path(key[len(prefix) :].lstrip("/")) or None


def collect_garbage(
    store: SqlStore,
    artifact_root: str,
    older_than_ms: int | None = None,
    run_ids: Sequence[str] = (),
    experiment_ids: Sequence[str] = (),
    *,
    s3: S3Settings | None = None,
    upload_age_s: float | None = DEFAULT_UPLOAD_AGE_S,
) -> GcReport:
    report = GcReport()
    root = ArtifactRoot(artifact_root, s3)
    uses = store.registry_uses()
    targets_given = bool(run_ids or experiment_ids)
    runs = list(run_ids) if targets_given else store.deleted_run_ids(older_than_ms)
    runs = _keep(runs, uses.runs, "run", report)
    for run_id, uri in store.purge_runs(runs):
        report.runs.append(run_id)
        _free(root, _run_folder(uri, run_id), report)
    if not targets_given:
        models = _keep(store.deleted_logged_model_ids(), uses.logged_models, "model", report)
        for model_id, uri in store.purge_logged_models(models):
            report.logged_models.append(model_id)
            _free(root, uri, report)
    exps = list(experiment_ids) if targets_given else store.deleted_experiment_ids()
    for exp_id in _keep(exps, uses.experiments, "experiment", report):
        location = store.get_experiment(exp_id).artifact_location
        for run_id, uri in store.purge_experiment(exp_id):
            report.runs.append(run_id)
            _free(root, _run_folder(uri, run_id), report)
        report.experiments.append(exp_id)
        _free(root, location, report)
    if upload_age_s is not None and isinstance(root.repo, MultipartArtifactRepository):
        count, size = root.repo.abort_stale_uploads(upload_age_s)
        report.stale_uploads, report.bytes_freed = count, report.bytes_freed + size
    return report


def _keep(ids: Sequence[str], used: dict[str, str], kind: str, report: GcReport) -> list[str]:
    """``ids`` minus those a registered version uses; those are reported as kept."""
    for i in ids:
        if i in used:
            report.kept.append(f"{kind} {i} (used by {used[i]})")
    return [i for i in ids if i not in used]


def _run_folder(uri: str, run_id: str) -> str:
    """``<exp>/<run_id>/artifacts`` is collected as ``<exp>/<run_id>`` (the whole run folder)."""
    parent, name = posixpath.split(uri.rstrip("/"))
    return parent if name == "artifacts" and posixpath.basename(parent) == run_id else uri


def _free(root: ArtifactRoot, uri: str, report: GcReport) -> None:
    if not uri:
        return
    path = root.relative(uri)
    if path is None:
        report.skipped_artifacts.append(uri)
        return
    try:
        size = _tree_size(root.repo, path)
        root.repo.delete(path)
    except ShipyardError as exc:
        report.failed_artifacts.append(f"{uri}: {exc.message}")
        return
    report.bytes_freed += size


def _tree_size(repo: ArtifactRepository, path: str) -> int:
    try:
        info = repo.info(path)
    except NotFound:
        return 0
    return _folder_size(repo, path) if info.is_dir else info.file_size or 0


def _folder_size(repo: ArtifactRepository, path: str) -> int:
    total, token = 0, None
    while True:
        page = repo.list(path, page_token=token)
        for entry in page.items:
            total += _folder_size(repo, entry.path) if entry.is_dir else entry.file_size or 0
        token = page.next_page_token
        if not token:
            return total
