"""``log_model``: a package written to a scratch folder, then uploaded into the active run.

The folder goes up through the SDK's artifact upload (so it lands wherever the run's artifacts
live: a local folder, S3, or a tracking server's proxy) under ``<name>/``, with ``run_id`` and
``artifact_path`` filled in, and can be loaded back as ``runs:/<run_id>/<name>``. With no active
run, one is started (and stays active), as ``log_metric`` does.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipyard.artifacts import normalize_artifact_path
from shipyard.client import active_run, start_run
from shipyard.client._artifacts import log_run_artifacts
from shipyard.errors import InvalidParameter
from shipyard.models._manifest import Manifest, write_manifest
from shipyard.models._signature import Signature

__all__ = ["ModelInfo", "log_package", "log_saved"]


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """Where a logged model went, and what it is."""

    model_uri: str  # runs:/<run_id>/<name>: what load_model takes
    artifact_uri: str  # the package folder's own artifact URI
    artifact_path: str  # <name> inside the run's artifacts
    run_id: str
    model_uuid: str
    flavors: dict[str, dict[str, Any]]
    signature: Signature | None
    utc_time_created: str


def log_package(name: str, save: Callable[[Path], Manifest]) -> ModelInfo:
    """Save with ``save(folder)`` and upload the folder to the active run under ``name``."""
    artifact_path = normalize_artifact_path(name)
    if not artifact_path:
        raise InvalidParameter("log_model needs a name for the model's folder, such as 'model'")
    run = active_run() or start_run()
    run_uri = run.client.get_run(run.run_id).info.artifact_uri
    artifact_uri = f"{run_uri.rstrip('/')}/{artifact_path}"
    with tempfile.TemporaryDirectory(prefix="shipyard-model-") as scratch:
        folder = Path(scratch) / "model"
        manifest = save(folder)
        manifest.run_id = run.run_id
        manifest.artifact_path = artifact_uri
        write_manifest(manifest, folder)
        log_run_artifacts(run.client, run.run_id, folder, artifact_path)
    return ModelInfo(
        model_uri=f"runs:/{run.run_id}/{artifact_path}",
        artifact_uri=artifact_uri,
        artifact_path=artifact_path,
        run_id=run.run_id,
        model_uuid=manifest.model_uuid,
        flavors=manifest.flavors,
        signature=manifest.signature,
        utc_time_created=manifest.utc_time_created,
    )


def log_saved(
    name: str, save_model: Callable[..., Manifest], model: Any, **options: Any
) -> ModelInfo:
    """``log_package`` for a flavor: ``save_model(model, folder, **options)`` into the run."""
    return log_package(name, lambda folder: save_model(model, folder, **options))
