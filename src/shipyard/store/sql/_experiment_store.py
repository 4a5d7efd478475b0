"""Experiments in the SQL store: a mixin over ``SqlStore``'s engine and transactions.

An experiment is soft-deleted with its runs and restored with them; the default experiment
("0") exists in every store and cannot be deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from shipyard.entities import Experiment, LifecycleStage, Tag, ViewType
from shipyard.errors import (
    AlreadyExists,
    ExperimentNotFound,
    InactiveResource,
    InvalidParameter,
    NotFound,
)
from shipyard.store._protocol import Page
from shipyard.store.search import decode_page_token, encode_page_token
from shipyard.store.sql import _search, _writes
from shipyard.store.sql._rows import load_experiments
from shipyard.store.sql._schema import experiment_tags, experiments, runs

__all__ = ["DEFAULT_EXPERIMENT_ID", "ExperimentStore", "experiment_key"]

DEFAULT_EXPERIMENT_ID = "0"
_ACTIVE = LifecycleStage.ACTIVE.value
_DELETED = LifecycleStage.DELETED.value

_EXPERIMENT_ROW = select(experiments).where(
    experiments.c.experiment_id == bindparam("experiment_id")
)


def experiment_key(experiment_id: str) -> int:
    """The integer key of an experiment id: text that is not a number is a bad id (400, as
    MLflow's server answers), a number no experiment can have is not found (404)."""
    key = _search.experiment_id_or_none(experiment_id)
    if key is None:
        _search.check_experiment_number(experiment_id)
        raise ExperimentNotFound(f"No Experiment with id={experiment_id} exists")
    return key


class ExperimentStore:
    """The experiment half of ``SqlStore``; it relies on the host for these members."""

    engine: Engine
    default_artifact_root: str
    _clock: Callable[[], int]

    if TYPE_CHECKING:

        def _read(self) -> AbstractContextManager[Connection]: ...
        def _write(self) -> AbstractContextManager[Connection]: ...

    def _ensure_default_experiment(self) -> None:
        with self._read() as conn:
            if (
                conn.scalar(
                    select(experiments.c.experiment_id).where(experiments.c.experiment_id == 0)
                )
                is not None
            ):
                return
        try:
            with self._write() as conn:
                now = self._clock()
                conn.execute(
                    insert(experiments).values(
                        experiment_id=0,
                        name="Default",
                        artifact_location=f"{self.default_artifact_root}/0",
                        lifecycle_stage=_ACTIVE,
                        creation_time=now,
                        last_update_time=now,
                    )
                )
        except IntegrityError:
            pass  # another process created it first

    # -- experiments --------------------------------------------------------------------------
    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: Sequence[Tag] = ()
    ) -> str:
        now = self._clock()
        try:
            with self._write() as conn:
                exp_id = conn.execute(
                    insert(experiments)
                    .values(
                        name=name,
                        artifact_location=artifact_location or "",
                        lifecycle_stage=_ACTIVE,
                        creation_time=now,
                        last_update_time=now,
                    )
                    .returning(experiments.c.experiment_id)
                ).scalar_one()
                if not artifact_location:
                    conn.execute(
                        update(experiments)
                        .where(experiments.c.experiment_id == exp_id)
                        .values(artifact_location=f"{self.default_artifact_root}/{exp_id}")
                    )
                if tags:
                    rows = [{"experiment_id": exp_id, "key": t.key, "value": t.value} for t in tags]
                    conn.execute(insert(experiment_tags), rows)
        except IntegrityError:
            raise AlreadyExists(f"Experiment '{name}' already exists.") from None
        return str(exp_id)

    def _experiment_row(self, conn: Connection, experiment_id: str) -> Any:
        row = conn.execute(
            _EXPERIMENT_ROW, {"experiment_id": experiment_key(experiment_id)}
        ).first()
        if row is None:
            raise ExperimentNotFound(f"No Experiment with id={experiment_id} exists")
        return row

    def get_experiment(self, experiment_id: str) -> Experiment:
        with self._read() as conn:
            return load_experiments(conn, [self._experiment_row(conn, experiment_id)])[0]

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        with self._read() as conn:
            row = conn.execute(select(experiments).where(experiments.c.name == name)).first()
            return load_experiments(conn, [row])[0] if row is not None else None

    def search_experiments(
        self,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        filter_string: str | None = None,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> Page[Experiment]:
        offset = decode_page_token(page_token)
        query = _search.experiment_query(
            view_type, filter_string, order_by, self.engine.dialect.name
        )
        with self._read() as conn:
            rows = conn.execute(query.offset(offset).limit(max_results + 1)).all()
            items = load_experiments(conn, rows[:max_results])
        token = encode_page_token(offset + max_results) if len(rows) > max_results else None
        return Page(items, token)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        try:
            with self._write() as conn:
                row = self._experiment_row(conn, experiment_id)
                if row.lifecycle_stage != _ACTIVE:
                    raise InactiveResource("Cannot rename a non-active experiment.")
                conn.execute(
                    update(experiments)
                    .where(experiments.c.experiment_id == row.experiment_id)
                    .values(name=new_name, last_update_time=self._clock())
                )
        except IntegrityError:
            raise AlreadyExists(f"Experiment '{new_name}' already exists.") from None

    def _set_experiment_stage(self, experiment_id: str, stage: str) -> None:
        with self._write() as conn:
            row = self._experiment_row(conn, experiment_id)
            if row.lifecycle_stage == stage:  # as MLflow's server: not found (404)
                why = "is already deleted" if stage == _DELETED else "is not deleted to restore"
                raise ExperimentNotFound(f"Experiment with id={experiment_id} {why}.")
            now = self._clock()
            conn.execute(
                update(experiments)
                .where(experiments.c.experiment_id == row.experiment_id)
                .values(lifecycle_stage=stage, last_update_time=now)
            )
            old = _ACTIVE if stage == _DELETED else _DELETED
            conn.execute(
                update(runs)
                .where(runs.c.experiment_id == row.experiment_id, runs.c.lifecycle_stage == old)
                .values(lifecycle_stage=stage, deleted_time=now if stage == _DELETED else None)
            )

    def delete_experiment(self, experiment_id: str) -> None:
        if experiment_id == DEFAULT_EXPERIMENT_ID:
            raise InvalidParameter("Cannot delete the default experiment '0'.")
        self._set_experiment_stage(experiment_id, _DELETED)

    def restore_experiment(self, experiment_id: str) -> None:
        self._set_experiment_stage(experiment_id, _ACTIVE)

    def set_experiment_tag(self, experiment_id: str, tag: Tag) -> None:
        with self._write() as conn:
            row = self._experiment_row(conn, experiment_id)
            if row.lifecycle_stage != _ACTIVE:
                raise InactiveResource(
                    f"The experiment {experiment_id} must be in the 'active' state."
                )
            stmt = _writes.upsert_tag(conn, experiment_tags, "experiment_id")
            conn.execute(
                stmt, [{"experiment_id": row.experiment_id, "key": tag.key, "value": tag.value}]
            )

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        with self._write() as conn:
            row = self._experiment_row(conn, experiment_id)
            gone = conn.execute(
                delete(experiment_tags).where(
                    experiment_tags.c.experiment_id == row.experiment_id,
                    experiment_tags.c.key == key,
                )
            )
            if gone.rowcount == 0:  # as MLflow's server
                raise NotFound(f"No tag with name: {key} in experiment with id {experiment_id}")
