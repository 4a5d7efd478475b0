"""Shared plumbing of the SQL registry: transactions that append audit events, row lookups,
and turning rows into ``RegisteredModel`` and ``ModelVersion`` entities."""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, func, select, tuple_, update

from shipyard.entities import ModelVersion, ModelVersionStage, RegisteredModel
from shipyard.errors import ModelVersionNotFound, RegisteredModelNotFound
from shipyard.store._registry import Change
from shipyard.store.sql._audit import AuditTxn
from shipyard.store.sql._dialect import upsert
from shipyard.store.sql._schema import (
    model_version_tags,
    model_versions,
    protected_aliases,
    registered_model_aliases,
    registered_model_tags,
    registered_models,
)

__all__ = [
    "ARCHIVING_STAGES",
    "MV",
    "RM",
    "RegistryBase",
    "now_ms",
    "put_rows",
    "version_not_found",
]

RM, MV = registered_models, model_versions
ARCHIVING_STAGES = (ModelVersionStage.STAGING.value, ModelVersionStage.PRODUCTION.value)


def now_ms() -> int:
    return int(time.time() * 1000)


def put_rows(
    conn: Connection,
    table: Any,
    rows: list[dict[str, Any]],
    keys: tuple[str, ...],
    cols: tuple[str, ...],
) -> None:
    stmt = upsert(conn, table)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=list(keys), set_={c: stmt.excluded[c] for c in cols}
        ),
        rows,
    )


def version_not_found(name: str, version: int | str) -> ModelVersionNotFound:
    return ModelVersionNotFound(f"Model Version (name={name}, version={version}) not found")


_PAIRS_PER_QUERY = 500


def _versions_in(model_col: Any, version_col: Any, keys: set[tuple[int, int]]) -> Any:
    """Rows of these (model, version) pairs; for a big set, every row of their models (callers
    filter): a bound parameter per pair would pass SQLite's limit."""
    if len(keys) <= _PAIRS_PER_QUERY:
        return tuple_(model_col, version_col).in_(sorted(keys))
    return model_col.in_({m for m, _ in keys})


class RegistryBase:
    """Engine, clock, transactions and entity loading shared by the registry mixins."""

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], int] = now_ms,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self.engine = engine
        self._clock = clock
        self._new_id = new_id

    # -- transactions -------------------------------------------------------------------------
    @contextmanager
    def _change(self, change: Change) -> Iterator[AuditTxn]:
        with self.engine.connect() as conn:
            conn.execution_options(shipyard_write=True)
            with conn.begin():
                txn = AuditTxn(conn, self._clock(), change)
                yield txn
                txn.finish()

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def _dialect(self) -> str:
        return self.engine.dialect.name

    # -- lookups ------------------------------------------------------------------------------
    @staticmethod
    def _model_row(conn: Connection, name: str) -> Any:
        row = conn.execute(select(RM).where(RM.c.name == name)).first()
        if row is None:
            raise RegisteredModelNotFound(f"Registered Model with name={name} not found")
        return row

    @staticmethod
    def _version_row(conn: Connection, model: Any, version: int) -> Any:
        row = conn.execute(
            select(MV).where(MV.c.registered_model_id == model.id, MV.c.version == version)
        ).first()
        if row is None:
            raise version_not_found(model.name, version)
        return row

    def _touch(self, txn: AuditTxn, model_id: int, version: int | None = None) -> None:
        txn.conn.execute(update(RM).where(RM.c.id == model_id).values(last_updated_time=txn.now))
        if version is not None:
            txn.conn.execute(
                update(MV)
                .where(MV.c.registered_model_id == model_id, MV.c.version == version)
                .values(last_updated_time=txn.now)
            )

    # -- loading entities ---------------------------------------------------------------------
    @staticmethod
    def _versions(
        conn: Connection, names: dict[int, str], rows: Sequence[Any]
    ) -> list[ModelVersion]:
        if not rows:
            return []
        keys = {(r.registered_model_id, r.version) for r in rows}
        model_ids = {k[0] for k in keys}
        tags: dict[tuple[int, int], dict[str, str]] = defaultdict(dict)
        t_cols = model_version_tags.c
        wanted = _versions_in(t_cols.registered_model_id, t_cols.version, keys)
        for t in conn.execute(select(model_version_tags).where(wanted)):
            if (t.registered_model_id, t.version) in keys:
                tags[(t.registered_model_id, t.version)][t.key] = t.value
        aliases: dict[tuple[int, int], list[str]] = defaultdict(list)
        for a in conn.execute(
            select(registered_model_aliases)
            .where(registered_model_aliases.c.registered_model_id.in_(model_ids))
            .order_by(registered_model_aliases.c.alias)
        ):
            aliases[(a.registered_model_id, a.version)].append(a.alias)
        return [
            ModelVersion(
                name=names[r.registered_model_id],
                version=str(r.version),
                creation_time=r.creation_time,
                last_updated_time=r.last_updated_time,
                source=r.source,
                current_stage=r.current_stage,
                description=r.description,
                user_id=r.user_id,
                run_id=r.run_id,
                run_link=r.run_link,
                model_id=r.logged_model_id,
                status=r.status,
                status_message=r.status_message,
                tags=tags.get((r.registered_model_id, r.version), {}),
                aliases=aliases.get((r.registered_model_id, r.version), []),
            )
            for r in rows
        ]

    def _version_entity(self, conn: Connection, model: Any, version: int) -> ModelVersion:
        row = self._version_row(conn, model, version)
        return self._versions(conn, {model.id: model.name}, [row])[0]

    def _models(self, conn: Connection, rows: Sequence[Any]) -> list[RegisteredModel]:
        if not rows:
            return []
        ids = [r.id for r in rows]
        names = {r.id: r.name for r in rows}
        tags: dict[int, dict[str, str]] = defaultdict(dict)
        for t in conn.execute(
            select(registered_model_tags).where(
                registered_model_tags.c.registered_model_id.in_(ids)
            )
        ):
            tags[t.registered_model_id][t.key] = t.value
        aliases: dict[int, dict[str, str]] = defaultdict(dict)
        for a in conn.execute(
            select(registered_model_aliases)
            .where(registered_model_aliases.c.registered_model_id.in_(ids))
            .order_by(registered_model_aliases.c.alias)
        ):
            aliases[a.registered_model_id][a.alias] = str(a.version)
        protected: dict[int, dict[str, int]] = defaultdict(dict)
        for p in conn.execute(
            select(protected_aliases).where(protected_aliases.c.registered_model_id.in_(ids))
        ):
            protected[p.registered_model_id][p.alias] = p.approvals_required
        latest = (
            select(MV.c.registered_model_id, MV.c.current_stage, func.max(MV.c.version))
            .where(MV.c.registered_model_id.in_(ids))
            .group_by(MV.c.registered_model_id, MV.c.current_stage)
        )
        wanted = {(m, v) for m, _stage, v in conn.execute(latest)}
        version_rows = []
        if wanted:
            found = conn.execute(
                select(MV)
                .where(_versions_in(MV.c.registered_model_id, MV.c.version, wanted))
                .order_by(MV.c.version)
            )
            version_rows = [r for r in found if (r.registered_model_id, r.version) in wanted]
        by_model: dict[int, list[ModelVersion]] = defaultdict(list)
        for mv, row in zip(self._versions(conn, names, version_rows), version_rows, strict=True):
            by_model[row.registered_model_id].append(mv)
        return [
            RegisteredModel(
                name=r.name,
                creation_time=r.creation_time,
                last_updated_time=r.last_updated_time,
                description=r.description,
                user_id=r.user_id,
                tags=tags.get(r.id, {}),
                aliases=aliases.get(r.id, {}),
                latest_versions=by_model.get(r.id, []),
                protected_aliases=protected.get(r.id, {}),
            )
            for r in rows
        ]
