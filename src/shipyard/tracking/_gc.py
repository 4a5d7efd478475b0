"""Garbage collection: permanently remove deleted runs and experiments, and their artifacts."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from shipyard.store.sql import SqlStore

__all__ = ["GcReport", "collect_garbage"]


@dataclass(slots=True)
class GcReport:
    runs: list[str] = field(default_factory=list)
    experiments: list[str] = field(default_factory=list)
    bytes_freed: int = 0
    skipped_artifacts: list[str] = field(default_factory=list)


def _local_artifact_dir(uri: str, artifact_root: Path) -> Path | None:
    """The folder behind a run's artifact URI, when it is on this machine's disk."""
    if uri.startswith("mlflow-artifacts:"):
        rel = uri.removeprefix("mlflow-artifacts:").lstrip("/")
        path = (artifact_root / rel).resolve()
    elif uri.startswith("file://"):
        path = Path(uri.removeprefix("file://")).resolve()
    elif "://" not in uri and uri:
        path = Path(uri).resolve()
    else:
        return None
    root = artifact_root.resolve()
    # Only ever delete below the artifact root, whatever the database says.
    return path if path.is_relative_to(root) and path != root else None


def _remove(path: Path) -> int:
    if not path.exists():
        return 0
    size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    shutil.rmtree(path)
    return size


def collect_garbage(
    store: SqlStore,
    artifact_root: str,
    older_than_ms: int | None = None,
    run_ids: Sequence[str] = (),
    experiment_ids: Sequence[str] = (),
) -> GcReport:
    report = GcReport()
    removed: list[tuple[str, str]] = []
    targets_given = bool(run_ids or experiment_ids)
    runs = list(run_ids) if targets_given else store.deleted_run_ids(older_than_ms)
    removed += store.purge_runs(runs)
    exps = list(experiment_ids) if targets_given else store.deleted_experiment_ids()
    for exp_id in exps:
        removed += store.purge_experiment(exp_id)
        report.experiments.append(exp_id)
    root = Path(artifact_root)
    for run_id, uri in removed:
        report.runs.append(run_id)
        folder = _local_artifact_dir(uri, root)
        if folder is None:
            if uri:
                report.skipped_artifacts.append(uri)
            continue
        report.bytes_freed += _remove(folder.parent if folder.name == "artifacts" else folder)
    return report
