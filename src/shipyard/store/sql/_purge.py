"""Removing deleted runs and experiments for good (``shipyard gc``), in the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, select

from shipyard.entities import LifecycleStage
from shipyard.errors import InvalidParameter
from shipyard.store.sql import _schema as schema

__all__ = ["deleted_experiment_ids", "deleted_run_ids", "purge_experiment", "purge_run"]

_DELETED = LifecycleStage.DELETED.value
_RUN_CHILDREN = (
    schema.metrics,
    schema.latest_metrics,
    schema.params,
    schema.tags,
    schema.input_tags,
    schema.dataset_inputs,
    schema.run_model_io,
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
