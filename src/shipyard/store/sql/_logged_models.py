"""Logged models (MLflow 3) in the SQL store: a mixin over ``SqlStore``'s engine and transactions.

A logged model belongs to an experiment and keeps its artifacts under
``<experiment artifact location>/models/<model_id>/artifacts``. Deleting one is a soft delete:
it disappears from reads and searches but its rows stay (``allow_deleted`` still finds it).
Metric points logged to a run with a ``model_id`` are linked to that model as well.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, Row, delete, select, update

from shipyard.entities import (
    DatasetRef,
    LifecycleStage,
    LoggedModel,
    LoggedModelOrderBy,
    LoggedModelStatus,
    Metric,
    Param,
    Tag,
)
from shipyard.errors import InactiveResource, LoggedModelNotFound, NotFound
from shipyard.store._protocol import Page
from shipyard.store.search import decode_page_token, encode_page_token
from shipyard.store.sql._dialect import upsert
from shipyard.store.sql._logged_model_search import logged_model_query
from shipyard.store.sql._rows import metric_value
from shipyard.store.sql._schema import (
    logged_model_metrics,
    logged_model_params,
    logged_model_tags,
    logged_models,
)
from shipyard.store.sql._search import experiment_id_or_none

__all__ = ["LoggedModelStore", "link_model_metrics", "load_logged_models"]

_ACTIVE = LifecycleStage.ACTIVE.value
_DELETED = LifecycleStage.DELETED.value


def _group(conn: Connection, table: Any, ids: list[str]) -> dict[str, list[Row[Any]]]:
    out: dict[str, list[Row[Any]]] = defaultdict(list)
    for row in conn.execute(select(table).where(table.c.model_id.in_(ids))):
        out[row.model_id].append(row)
    return out


def _metric(row: Row[Any]) -> Metric:
    return Metric(
        key=row.key,
        value=metric_value(row.value, row.is_nan),
        timestamp=row.timestamp,
        step=row.step,
        model_id=row.model_id,
        dataset_name=row.dataset_name or None,
        dataset_digest=row.dataset_digest or None,
        run_id=row.run_uuid,
    )


def load_logged_models(conn: Connection, rows: Sequence[Row[Any]]) -> list[LoggedModel]:
    """Full models (tags, params, linked metrics) for a page of model rows, in the rows' order."""
    ids = [r.model_id for r in rows]
    if not ids:
        return []
    tags, params = _group(conn, logged_model_tags, ids), _group(conn, logged_model_params, ids)
    points = _group(conn, logged_model_metrics, ids)
    return [
        LoggedModel(
            model_id=r.model_id,
            experiment_id=str(r.experiment_id),
            name=r.name,
            artifact_uri=r.artifact_location,
            creation_time=r.creation_timestamp_ms,
            last_updated_time=r.last_updated_timestamp_ms,
            status=r.status,
            model_type=r.model_type,
            source_run_id=r.source_run_id,
            status_message=r.status_message,
            lifecycle_stage=r.lifecycle_stage,
            tags={t.key: t.value for t in tags.get(r.model_id, [])},
            params={p.key: p.value for p in params.get(r.model_id, [])},
            metrics=sorted(
                (_metric(m) for m in points.get(r.model_id, [])),
                key=lambda m: (m.key, m.timestamp, m.step),
            ),
        )
        for r in rows
    ]


def _active_ids(conn: Connection, model_ids: set[str]) -> set[str]:
    q = select(logged_models.c.model_id).where(
        logged_models.c.model_id.in_(list(model_ids)), logged_models.c.lifecycle_stage == _ACTIVE
    )
    return set(conn.scalars(q))


_POINT_KEY = ("model_id", "key", "timestamp", "step", "run_uuid", "dataset_name", "dataset_digest")


def _point_row(run_id: str, m: Metric) -> dict[str, Any]:
    nan = m.value != m.value
    return {
        "model_id": m.model_id,
        "key": m.key,
        "timestamp": m.timestamp,
        "step": m.step,
        "run_uuid": run_id,
        "dataset_name": m.dataset_name or "",
        "dataset_digest": m.dataset_digest or "",
        "value": 0.0 if nan else m.value,
        "is_nan": nan,
    }


def link_model_metrics(conn: Connection, run_id: str, points: Sequence[Metric]) -> None:
    """Link the points that carry a ``model_id`` to their (active) models; the run's own copy
    is written by the caller. A later point with the same coordinates replaces the value."""
    linked = [m for m in points if m.model_id]
    if not linked:
        return
    wanted = {m.model_id for m in linked if m.model_id}
    missing = wanted - _active_ids(conn, wanted)
    if missing:
        raise LoggedModelNotFound(f"Logged model with ID '{sorted(missing)[0]}' not found.")
    rows = {
        tuple(row[k] for k in _POINT_KEY): row for row in (_point_row(run_id, m) for m in linked)
    }
    stmt = upsert(conn, logged_model_metrics)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(_POINT_KEY),
        set_={"value": stmt.excluded.value, "is_nan": stmt.excluded.is_nan},
    )
    conn.execute(stmt, list(rows.values()))


class LoggedModelStore:
    """The logged-model half of ``SqlStore``; it relies on the host for these members."""

    engine: Engine
    _clock: Callable[[], int]
    _new_id: Callable[[], str]

    if TYPE_CHECKING:

        def _read(self) -> AbstractContextManager[Connection]: ...
        def _write(self) -> AbstractContextManager[Connection]: ...
        def _experiment_row(self, conn: Connection, experiment_id: str) -> Any: ...
        def _run_row(self, conn: Connection, run_id: str) -> Any: ...

    # -- helpers ------------------------------------------------------------------------------
    def _model_row(self, conn: Connection, model_id: str, allow_deleted: bool = False) -> Any:
        row = conn.execute(
            select(logged_models).where(logged_models.c.model_id == model_id)
        ).first()
        if row is None or (row.lifecycle_stage != _ACTIVE and not allow_deleted):
            raise LoggedModelNotFound(f"Logged model with ID '{model_id}' not found.")
        return row

    def _touch(self, conn: Connection, model_id: str, **values: Any) -> None:
        conn.execute(
            update(logged_models)
            .where(logged_models.c.model_id == model_id)
            .values(last_updated_timestamp_ms=self._clock(), **values)
        )

    @staticmethod
    def _upsert_keyed(conn: Connection, table: Any, model_id: str, items: Sequence[Any]) -> None:
        rows = {i.key: {"model_id": model_id, "key": i.key, "value": i.value} for i in items}
        if not rows:
            return
        stmt = upsert(conn, table)
        stmt = stmt.on_conflict_do_update(
            index_elements=["model_id", "key"], set_={"value": stmt.excluded.value}
        )
        conn.execute(stmt, list(rows.values()))

    # -- the protocol -------------------------------------------------------------------------
    def create_logged_model(
        self,
        experiment_id: str,
        name: str | None = None,
        source_run_id: str | None = None,
        tags: Sequence[Tag] = (),
        params: Sequence[Param] = (),
        model_type: str | None = None,
    ) -> LoggedModel:
        model_id = f"m-{self._new_id()}"
        now = self._clock()
        with self._write() as conn:
            exp = self._experiment_row(conn, experiment_id)
            if exp.lifecycle_stage != _ACTIVE:
                raise InactiveResource(
                    f"The experiment {experiment_id} must be in the 'active' state. "
                    f"Current state is {exp.lifecycle_stage}."
                )
            if source_run_id:
                self._run_row(conn, source_run_id)
            location = f"{exp.artifact_location.rstrip('/')}/models/{model_id}/artifacts"
            conn.execute(
                logged_models.insert().values(
                    model_id=model_id,
                    experiment_id=exp.experiment_id,
                    name=name or model_id,
                    artifact_location=location,
                    creation_timestamp_ms=now,
                    last_updated_timestamp_ms=now,
                    status=LoggedModelStatus.PENDING.value,
                    lifecycle_stage=_ACTIVE,
                    model_type=model_type or None,
                    source_run_id=source_run_id or None,
                )
            )
            self._upsert_keyed(conn, logged_model_tags, model_id, tags)
            self._upsert_keyed(conn, logged_model_params, model_id, params)
            return load_logged_models(conn, [self._model_row(conn, model_id)])[0]

    def get_logged_model(self, model_id: str, allow_deleted: bool = False) -> LoggedModel:
        with self._read() as conn:
            return load_logged_models(conn, [self._model_row(conn, model_id, allow_deleted)])[0]

    def finalize_logged_model(self, model_id: str, status: str) -> LoggedModel:
        with self._write() as conn:
            self._model_row(conn, model_id)
            self._touch(conn, model_id, status=status)
            return load_logged_models(conn, [self._model_row(conn, model_id)])[0]

    def delete_logged_model(self, model_id: str) -> None:
        with self._write() as conn:
            self._model_row(conn, model_id)
            self._touch(conn, model_id, lifecycle_stage=_DELETED)

    def set_logged_model_tags(self, model_id: str, tags: Sequence[Tag]) -> None:
        with self._write() as conn:
            self._model_row(conn, model_id)
            self._upsert_keyed(conn, logged_model_tags, model_id, tags)
            self._touch(conn, model_id)

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        with self._write() as conn:
            self._model_row(conn, model_id)
            result = conn.execute(
                delete(logged_model_tags).where(
                    logged_model_tags.c.model_id == model_id, logged_model_tags.c.key == key
                )
            )
            if result.rowcount == 0:
                raise NotFound(f"No tag with key '{key}' on logged model '{model_id}'.")
            self._touch(conn, model_id)

    def log_logged_model_params(self, model_id: str, params: Sequence[Param]) -> None:
        with self._write() as conn:
            self._model_row(conn, model_id)
            self._upsert_keyed(conn, logged_model_params, model_id, params)
            self._touch(conn, model_id)

    def search_logged_models(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        datasets: Sequence[DatasetRef] = (),
        max_results: int = 100,
        order_by: Sequence[LoggedModelOrderBy] = (),
        page_token: str | None = None,
    ) -> Page[LoggedModel]:
        offset = decode_page_token(page_token)
        keys = [k for k in map(experiment_id_or_none, experiment_ids) if k is not None]
        query = logged_model_query(
            keys, filter_string, datasets, order_by, self.engine.dialect.name
        )
        with self._read() as conn:
            rows = conn.execute(query.offset(offset).limit(max_results + 1)).all()
            items = load_logged_models(conn, rows[:max_results])
        token = encode_page_token(offset + max_results) if len(rows) > max_results else None
        return Page(items, token)
