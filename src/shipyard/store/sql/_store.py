"""SqlStore: the tracking store on SQLAlchemy Core, for SQLite and PostgreSQL.

Integrity rules live here (not found, deleted, immutable params, unique names); input rules
(limits, key syntax, required tags) live in the tracking service above, so they are written once
for the SDK and the server alike. Every write is one transaction: a batch is stored whole or not
at all.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Select, bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError

from shipyard.entities import (
    RUN_NAME_TAG,
    DatasetInput,
    LifecycleStage,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    Tag,
    links_models,
)
from shipyard.errors import (
    ExperimentNotFound,
    InactiveResource,
    NotFound,
    RunNotFound,
)
from shipyard.store._protocol import Page
from shipyard.store.search import decode_history_token
from shipyard.store.sql import _lite, _purge, _writes
from shipyard.store.sql import _schema as schema
from shipyard.store.sql._connections import Connections
from shipyard.store.sql._engine import LoopEngine, make_engine
from shipyard.store.sql._experiment_store import (
    DEFAULT_EXPERIMENT_ID,
    ExperimentStore,
    experiment_key,
)
from shipyard.store.sql._kept_bodies import KEPT_BODIES_BYTES, KeptBodies
from shipyard.store.sql._logged_models import LoggedModelStore, link_model_metrics
from shipyard.store.sql._migrations import ensure_schema
from shipyard.store.sql._rows import (
    RUN_COLUMNS,
    load_runs,
    run_info,
)
from shipyard.store.sql._run_search_store import RunSearchStore
from shipyard.store.sql._schema import experiment_tags, runs

__all__ = ["DEFAULT_EXPERIMENT_ID", "SqlStore"]

_log = logging.getLogger(__name__)
_ACTIVE = LifecycleStage.ACTIVE.value
_DELETED = LifecycleStage.DELETED.value


T = TypeVar("T")
Json = dict[str, Any]

# Built once: every write looks its run up first, and building the statement costs more than
# running it on SQLite.
_RUN_ROW = select(*RUN_COLUMNS).where(runs.c.run_uuid == bindparam("run_id"))
# Logging inputs locks the run (PostgreSQL: FOR NO KEY UPDATE, which the hot log-batch's FOR KEY
# SHARE does not wait for; SQLite's write transactions take turns already), so two requests on
# one run number their datasets one after the other (``_writes.link_dataset``).
_RUN_ROW_LOCKED = _RUN_ROW.with_for_update(key_share=True)
# A write to a run's data, inputs or outputs outside the hot statements clears its kept JSON
# (``_run_docs``): unconditionally and after the write, so a fill that committed in between is
# cleared too.
_CLEAR_KEPT = update(runs).where(runs.c.run_uuid == bindparam("run_id")).values(wire_kept=False)
_EXPERIMENT_HAS_TAG = select(experiment_tags.c.key).where(
    experiment_tags.c.experiment_id == bindparam("experiment_id"),
    experiment_tags.c.key == bindparam("key"),
)
# The run's row decides "not found"; its experiment's tags come with it (none: one NULL row).
_RUN_EXPERIMENT_TAGS = (
    select(experiment_tags.c.key, experiment_tags.c.value)
    .select_from(
        runs.outerjoin(experiment_tags, runs.c.experiment_id == experiment_tags.c.experiment_id)
    )
    .where(runs.c.run_uuid == bindparam("run_id"))
)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _require_active_experiment(experiment_id: str, stage: str) -> None:
    if stage != _ACTIVE:
        raise InactiveResource(
            f"The experiment {experiment_id} must be in the 'active' state. "
            f"Current state is {stage}."
        )


def _require_active(run_id: str, stage: str) -> None:
    if stage != _ACTIVE:
        raise InactiveResource(
            f"The run {run_id} must be in the 'active' state. Current state is {stage}."
        )


class SqlStore(Connections, ExperimentStore, RunSearchStore, LoggedModelStore):
    """Tracking store over one database URI (``sqlite:///...`` or ``postgresql://...``).

    Connections and transactions, experiments, run search and logged models come from mixins
    (``Connections``, ``ExperimentStore``, ``RunSearchStore``, ``LoggedModelStore``).
    """

    def __init__(
        self,
        db_uri: str,
        default_artifact_root: str,
        *,
        clock: Callable[[], int] = _now_ms,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
        engine: Engine | None = None,
        check_schema: bool = True,
        kept_bodies_bytes: int = KEPT_BODIES_BYTES,
    ) -> None:
        self.db_uri = db_uri
        self.engine = engine or make_engine(db_uri)
        # The hot writes (runs/create, log-batch, runs/update): single statements in autocommit
        # on PostgreSQL (``_pg``), plain driver calls in a write transaction on SQLite
        # (``_lite``); both answer alike. PostgreSQL reads run without a transaction.
        self._postgres = self.engine.dialect.name == "postgresql"
        self._hot: Any = _lite
        self._loop_engine = LoopEngine(self.engine) if LoopEngine.available(self.engine) else None
        if self._postgres:
            # Imported here: ``_pg`` packs its arrays with numpy, which SQLite stores (the
            # CLI's and the SDK's local files) need not load at start-up.
            from shipyard.store.sql import _pg

            self._hot = _pg
        self._keep_runs = True  # finished runs' wire form kept (``_run_docs``)
        self._held = KeptBodies(kept_bodies_bytes)  # and the kept bodies this process has read
        self.default_artifact_root = default_artifact_root.rstrip("/")
        self._clock = clock
        self._new_id = new_id
        if check_schema:
            ensure_schema(self.engine)
        self._ensure_default_experiment()

    # -- runs ---------------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        user_id: str,
        start_time: int,
        tags: Sequence[Tag] = (),
        run_name: str | None = None,
    ) -> Run:
        run_id = self._new_id()
        tag_map = {t.key: t.value for t in tags}
        name = run_name or tag_map.get(RUN_NAME_TAG) or run_id
        tag_map[RUN_NAME_TAG] = name
        values = {
            "run_uuid": run_id,
            "name": name,
            "user_id": user_id,
            "status": RunStatus.RUNNING.value,
            "start_time": start_time,
            "lifecycle_stage": _ACTIVE,
        }
        experiment = experiment_key(experiment_id)
        with self._hot_write() as conn:
            exp = self._hot.create_run(conn, experiment, values, tag_map)
            if exp is None:
                raise ExperimentNotFound(f"No Experiment with id={experiment_id} exists")
            _require_active_experiment(experiment_id, exp[1])
        # Everything a new run holds is known here: no need to read it back.
        info = RunInfo(
            run_id=run_id,
            experiment_id=str(experiment),
            run_name=name,
            user_id=user_id,
            status=RunStatus.RUNNING.value,
            start_time=start_time,
            end_time=None,
            artifact_uri=_writes.run_artifact_uri(exp[0], run_id),
        )
        return Run(info=info, data=RunData(tags=tag_map))

    def _run_row(self, conn: Connection, run_id: str, statement: Select[Any] = _RUN_ROW) -> Any:
        row = conn.execute(statement, {"run_id": run_id}).first()
        if row is None:
            raise RunNotFound(f"Run with id={run_id} not found")
        return row

    def _active_run(self, conn: Connection, run_id: str, statement: Select[Any] = _RUN_ROW) -> Any:
        row = self._run_row(conn, run_id, statement)
        _require_active(run_id, row.lifecycle_stage)
        return row

    def get_run_info(self, run_id: str) -> RunInfo:
        with self._read() as conn:
            return run_info(self._run_row(conn, run_id))

    def get_run_tags(self, run_id: str) -> dict[str, str]:
        t = schema.tags.c
        with self._read() as conn:
            self._run_row(conn, run_id)
            return dict(conn.execute(select(t.key, t.value).where(t.run_uuid == run_id)).all())

    def get_run_experiment_tags(self, run_id: str) -> dict[str, str]:
        """The tags of the run's experiment, in one read (checked on every run that finishes)."""
        with self._read() as conn:
            rows = conn.execute(_RUN_EXPERIMENT_TAGS, {"run_id": run_id}).all()
        if not rows:
            raise RunNotFound(f"Run with id={run_id} not found")
        return {key: value for key, value in rows if key is not None}

    def get_run(self, run_id: str) -> Run:
        with self._read() as conn:
            return load_runs(conn, [self._run_row(conn, run_id)])[0]

    def update_run_info(
        self,
        run_id: str,
        status: str | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo:
        info = self._update_run(run_id, status, end_time, run_name, guard=None)
        assert info is not None  # only a guard stops an update
        return info

    def update_run_info_unless(
        self,
        experiment_tag: str,
        run_id: str,
        status: str | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo | None:
        return self._update_run(run_id, status, end_time, run_name, guard=experiment_tag)

    def _update_run(
        self,
        run_id: str,
        status: str | None,
        end_time: int | None,
        run_name: str | None,
        guard: str | None,
    ) -> RunInfo | None:
        if not run_name:
            with self._hot_write() as conn:
                row, blocked = self._hot.update_run(conn, run_id, status, end_time, guard)
                if row is None:
                    raise RunNotFound(f"Run with id={run_id} not found")
                _require_active(run_id, row.lifecycle_stage)
            if blocked:
                return None
            return replace(
                run_info(row),
                status=status if status is not None else row.status,
                end_time=end_time if end_time is not None else row.end_time,
            )
        with self._write() as conn:
            row = self._active_run(conn, run_id)
            if (
                guard is not None
                and conn.execute(
                    _EXPERIMENT_HAS_TAG, {"experiment_id": row.experiment_id, "key": guard}
                ).first()
            ):
                return None
            values: dict[str, Any] = {}
            if status is not None:
                values["status"] = status
            if end_time is not None:
                values["end_time"] = end_time
            if run_name:
                values["name"] = run_name
                values["wire_kept"] = False  # the run's name tag changes (``_run_docs``)
                stmt = _writes.upsert_tag(conn, schema.tags, "run_uuid")
                conn.execute(stmt, [{"run_uuid": run_id, "key": RUN_NAME_TAG, "value": run_name}])
            if values:
                conn.execute(update(runs).where(runs.c.run_uuid == run_id).values(**values))
        # The row as it was, with what this update changed: no second read.
        return replace(
            run_info(row),
            status=values.get("status", row.status),
            end_time=values.get("end_time", row.end_time),
            run_name=values.get("name", row.name or ""),
        )

    def _set_run_stage(self, run_id: str, stage: str) -> None:
        with self._write() as conn:
            self._run_row(conn, run_id)
            conn.execute(
                update(runs)
                .where(runs.c.run_uuid == run_id)
                .values(
                    lifecycle_stage=stage, deleted_time=self._clock() if stage == _DELETED else None
                )
            )

    def delete_run(self, run_id: str) -> None:
        self._set_run_stage(run_id, _DELETED)

    def restore_run(self, run_id: str) -> None:
        self._set_run_stage(run_id, _ACTIVE)

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[Tag] = (),
    ) -> None:
        linked = links_models(metrics)
        try:
            self._log_batch(run_id, metrics, params, tags, linked, dedupe=False)
        except IntegrityError:
            if not metrics:
                raise
            # A point already stored (or repeated in the batch): the batch again, skipping it.
            self._log_batch(run_id, metrics, params, tags, linked, dedupe=True)

    def _log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric],
        params: Sequence[Param],
        tags: Sequence[Tag],
        linked: bool,
        dedupe: bool,
    ) -> None:
        """The batch through ``self._hot`` (see ``__init__``). Points for a logged model also
        go to the model's own table, in the same transaction (not autocommit, then)."""
        wanted = _writes.wanted_params(params)
        tag_map = {t.key: t.value for t in tags}
        with self._write() if linked else self._hot_write() as conn:
            stage, key, old = self._hot.log_batch(conn, run_id, metrics, wanted, tag_map, dedupe)
            if stage is None:
                raise RunNotFound(f"Run with id={run_id} not found")
            _require_active(run_id, stage)
            if key is not None:
                raise _writes.changed_param(run_id, key, str(old), wanted[key])
            if linked:
                assert isinstance(conn, Connection)  # ``_write``'s, not a hot write's
                link_model_metrics(conn, run_id, metrics)

    def delete_tag(self, run_id: str, key: str) -> None:
        with self._write() as conn:
            self._active_run(conn, run_id)
            result = conn.execute(
                delete(schema.tags).where(
                    schema.tags.c.run_uuid == run_id, schema.tags.c.key == key
                )
            )
            if result.rowcount == 0:  # not found (404), as MLflow's server answers
                raise NotFound(f"No tag with name: {key} in run with id {run_id}")
            conn.execute(_CLEAR_KEPT, {"run_id": run_id})

    def get_metric_history(
        self,
        run_id: str,
        key: str,
        max_results: int | None = None,
        page_token: str | None = None,
    ) -> Page[Metric]:
        return self._history(_writes.history, run_id, key, max_results, page_token)

    def get_metric_history_json(
        self,
        run_id: str,
        key: str,
        max_results: int | None = None,
        page_token: str | None = None,
    ) -> Page[Json]:
        """``get_metric_history`` with each point already in its wire form."""
        return self._history(_writes.history_json, run_id, key, max_results, page_token)

    def _history(
        self,
        read: Callable[[Connection, _writes.HistoryPage], Page[T]],
        run_id: str,
        key: str,
        max_results: int | None,
        page_token: str | None,
    ) -> Page[T]:
        page = _writes.HistoryPage(run_id, key, *decode_history_token(page_token), max_results)
        with self._read() as conn:  # a missing run has an empty history, as on MLflow's server
            return read(conn, page)

    def log_inputs(
        self, run_id: str, datasets: Sequence[DatasetInput] = (), model_ids: Sequence[str] = ()
    ) -> None:
        with self._write() as conn:
            row = self._active_run(conn, run_id, _RUN_ROW_LOCKED)
            for item in datasets:
                _writes.link_dataset(conn, row.experiment_id, run_id, item)
            for model_id in model_ids:
                _writes.link_model(conn, run_id, model_id, "input", 0)
            conn.execute(_CLEAR_KEPT, {"run_id": run_id})

    def log_outputs(self, run_id: str, models: Sequence[tuple[str, int]]) -> None:
        with self._write() as conn:
            self._active_run(conn, run_id)
            for model_id, step in models:
                _writes.link_model(conn, run_id, model_id, "output", step)
            conn.execute(_CLEAR_KEPT, {"run_id": run_id})

    # -- garbage collection -------------------------------------------------------------------
    def deleted_run_ids(self, older_than_ms: int | None = None) -> list[str]:
        cutoff = None if older_than_ms is None else self._clock() - older_than_ms
        with self._read() as conn:
            return _purge.deleted_run_ids(conn, cutoff)

    def deleted_experiment_ids(self) -> list[str]:
        with self._read() as conn:
            return _purge.deleted_experiment_ids(conn)

    def registry_uses(self) -> _purge.RegistryUses:
        """Runs, logged models and experiments registered versions still use (``gc`` keeps them)."""
        with self._read() as conn:
            return _purge.registry_uses(conn)

    def deleted_logged_model_ids(self) -> list[str]:
        with self._read() as conn:
            return _purge.deleted_logged_model_ids(conn)

    def purge_logged_models(self, model_ids: Sequence[str]) -> list[tuple[str, str]]:
        """Remove deleted logged models for good; (model_id, artifact location) of each."""
        with self._write() as conn:
            found = (_purge.purge_logged_model(conn, m) for m in model_ids)
            return [f for f in found if f is not None]

    def purge_runs(self, run_ids: Sequence[str]) -> list[tuple[str, str]]:
        """Remove deleted runs for good; returns (run_id, artifact_uri) of what was removed."""
        with self._write() as conn:
            return [_purge.purge_run(conn, self._run_row(conn, run_id)) for run_id in run_ids]

    def purge_experiment(self, experiment_id: str) -> list[tuple[str, str]]:
        """Remove a deleted experiment with all its runs; returns what ``purge_runs`` returns."""
        with self._write() as conn:
            return _purge.purge_experiment(conn, self._experiment_row(conn, experiment_id))
