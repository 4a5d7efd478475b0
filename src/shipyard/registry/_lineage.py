"""Lineage: what a model version was made from, captured when the version is registered.

The snapshot names the source run (experiment, name, user, status, params), the code (git commit,
repository, entry point from the run's ``mlflow.source.*`` tags and any ``shipyard.*`` project
tags), the data (the run's dataset inputs with their digests), the logged model and the
environment (the package's ``requirements.txt``). Taken at registration, so editing the run
later does not rewrite a version's history.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shipyard.errors import NotFound, ShipyardError
from shipyard.store._protocol import TrackingStore

__all__ = ["ReadArtifact", "snapshot"]

#: Reads a small artifact file by URI (``None`` when absent or unreadable).
ReadArtifact = Callable[[str], bytes | None]

_CODE_TAGS = ("mlflow.source.", "shipyard.")


def _run_part(tracking: TrackingStore, run_id: str) -> dict[str, Any]:
    run = tracking.get_run(run_id)
    tags = run.data.tags
    return {
        "run": {
            "run_id": run.info.run_id,
            "experiment_id": run.info.experiment_id,
            "run_name": run.info.run_name,
            "user_id": run.info.user_id,
            "status": str(run.info.status),
            "start_time": run.info.start_time,
            "params": dict(run.data.params),
        },
        "code": {
            "git_commit": tags.get("mlflow.source.git.commit"),
            "git_repo": tags.get("mlflow.source.git.repoURL"),
            "source_name": tags.get("mlflow.source.name"),
            "source_type": tags.get("mlflow.source.type"),
            "tags": {k: v for k, v in sorted(tags.items()) if k.startswith(_CODE_TAGS)},
        },
        "datasets": [
            {
                "name": d.dataset.name,
                "digest": d.dataset.digest,
                "source_type": d.dataset.source_type,
                "source": d.dataset.source,
                "context": next((t.value for t in d.tags if t.key == "mlflow.data.context"), None),
            }
            for d in run.inputs
        ],
    }


def _requirements(read: ReadArtifact | None, artifact_uri: str | None) -> list[str] | None:
    if read is None or not artifact_uri:
        return None
    data = read(f"{artifact_uri.rstrip('/')}/requirements.txt")
    if data is None:
        return None
    lines = data.decode("utf-8", "replace").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def snapshot(
    tracking: TrackingStore,
    *,
    run_id: str | None,
    model_id: str | None,
    artifact_uri: str | None,
    read: ReadArtifact | None,
) -> dict[str, Any]:
    """The lineage document stored with a new version (missing parts are ``None``)."""
    out: dict[str, Any] = {"run": None, "code": None, "datasets": [], "logged_model": None}
    if model_id:
        try:
            lm = tracking.get_logged_model(model_id)
            out["logged_model"] = {
                "model_id": lm.model_id,
                "name": lm.name,
                "artifact_uri": lm.artifact_uri,
                "model_type": lm.model_type,
            }
            run_id = run_id or lm.source_run_id
        except NotFound:
            pass
    if run_id:
        try:
            out.update(_run_part(tracking, run_id))
        except NotFound:
            out["run"] = {"run_id": run_id, "missing": True}
    try:
        out["requirements"] = _requirements(read, artifact_uri)
    except (ShipyardError, OSError):
        out["requirements"] = None
    return out
