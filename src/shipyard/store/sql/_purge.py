"""Removing deleted runs and experiments for good (``shipyard gc``), in the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, delete, select

from shipyard.entities import LifecycleStage
from shipyard.errors import InvalidParameter
from shipyard.store.sql import _schema as schema

__all__ = [
    "RegistryUses",
    "deleted_experiment_ids",
    "deleted_logged_model_ids",
    "deleted_run_ids",
    "purge_experiment",
    "purge_logged_model",
    "purge_run",
    "registry_uses",
]

_DELETED = LifecycleStage.DELETED.value
_RUN_CHILDREN = (
    schema.metrics,
    schema.latest_metrics,
    schema.params,
    schema.tags,
    schema.input_tags,
    schema.dataset_inputs,
    schema.run_model_io,
    schema.run_wire,
)


def deleted_run_ids(conn: Connection, deleted_before: int | None) -> list[str]:
    runs = schema.runs.c
    q = select(runs.run_uuid).where(runs.lifecycle_stage == _DELETED)
    if deleted_before is not None:
        q = q.where(runs.deleted_time <= deleted_before)
    return list(conn.scalars(q))


def deleted_experiment_ids(conn: Connection) -> list[str]:
    exps = schema.experiments.c
    q = select(exps.experiment_id).where(exps.lifecycle_stage == _DELETED)
    return [str(x) for x in conn.scalars(q)]


def purge_run(conn: Connection, run: Any) -> tuple[str, str]:
    """Delete one deleted run's rows; returns (run_id, artifact_uri) for its artifacts."""
    if run.lifecycle_stage != _DELETED:
        raise InvalidParameter(f"Run {run.run_uuid} is not in the deleted state.")
    # Lock the run first: a batch still writing points to it (it holds a key-share lock) ends
    # before the points are deleted, and a later one finds no run (metrics has no foreign key).
    runs = schema.runs.c
    conn.execute(select(runs.run_uuid).where(runs.run_uuid == run.run_uuid).with_for_update())
    for table in _RUN_CHILDREN:
        conn.execute(delete(table).where(table.c.run_uuid == run.run_uuid))
    conn.execute(delete(schema.runs).where(schema.runs.c.run_uuid == run.run_uuid))
    return run.run_uuid, run.artifact_uri or ""


def purge_experiment(conn: Connection, exp: Any) -> list[tuple[str, str]]:
    """Delete a deleted experiment with all its runs; returns what ``purge_run`` returns."""
    if exp.lifecycle_stage != _DELETED:
        raise InvalidParameter(f"Experiment {exp.experiment_id} is not in the deleted state.")
    runs = schema.runs
    members = conn.execute(
        select(runs.c.run_uuid, runs.c.lifecycle_stage, runs.c.artifact_uri).where(
            runs.c.experiment_id == exp.experiment_id
        )
    ).all()
    removed = [purge_run(conn, run) for run in members]
    for table in (schema.experiment_tags, schema.datasets):
        conn.execute(delete(table).where(table.c.experiment_id == exp.experiment_id))
    conn.execute(
        delete(schema.experiments).where(schema.experiments.c.experiment_id == exp.experiment_id)
    )
    return removed


@dataclass(slots=True)
class RegistryUses:
    """What registered model versions still point at, each with the version that does."""

    runs: dict[str, str] = field(default_factory=dict)
    logged_models: dict[str, str] = field(default_factory=dict)
    experiments: dict[str, str] = field(default_factory=dict)


def registry_uses(conn: Connection) -> RegistryUses:
    """Runs, logged models and experiments that ``gc`` must keep: a version's files live there."""
    mv, rm = schema.model_versions.c, schema.registered_models.c
    uses = RegistryUses()
    rows = conn.execute(
        select(rm.name, mv.version, mv.run_id, mv.logged_model_id).join(
            schema.registered_models, rm.id == mv.registered_model_id
        )
    )
    for name, version, run_id, model_id in rows:
        label = f"{name} version {version}"
        if run_id:
            uses.runs.setdefault(run_id, label)
        if model_id:
            uses.logged_models.setdefault(model_id, label)
    runs, models = schema.runs.c, schema.logged_models.c
    for run_id, exp in conn.execute(
        select(runs.run_uuid, runs.experiment_id).where(runs.run_uuid.in_(list(uses.runs)))
    ):
        uses.experiments.setdefault(str(exp), uses.runs[run_id])
    for model_id, exp in conn.execute(
        select(models.model_id, models.experiment_id).where(
            models.model_id.in_(list(uses.logged_models))
        )
    ):
        uses.experiments.setdefault(str(exp), uses.logged_models[model_id])
    return uses


def deleted_logged_model_ids(conn: Connection) -> list[str]:
    models = schema.logged_models.c
    return list(conn.scalars(select(models.model_id).where(models.lifecycle_stage == _DELETED)))


def purge_logged_model(conn: Connection, model_id: str) -> tuple[str, str] | None:
    """Delete one deleted logged model's rows; (id, artifact location), or None if not deleted."""
    models = schema.logged_models
    row = conn.execute(
        select(models.c.lifecycle_stage, models.c.artifact_location).where(
            models.c.model_id == model_id
        )
    ).first()
    if row is None or row.lifecycle_stage != _DELETED:
        return None
    for table in (
        schema.logged_model_tags,
        schema.logged_model_params,
        schema.logged_model_metrics,
    ):
        conn.execute(delete(table).where(table.c.model_id == model_id))
    conn.execute(delete(models).where(models.c.model_id == model_id))
    return model_id, row.artifact_location
