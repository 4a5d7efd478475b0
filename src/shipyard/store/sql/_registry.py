"""The model registry in SQL: registered models, versions, tags, aliases, stages, approvals.

Every write runs in one transaction that starts by locking the audit chain's head (see
``_audit.AuditTxn``) and appends the events that describe it, so concurrent writers are
serialised, "before" values are what the previous writer left, and nothing changes unrecorded.
Input rules (name syntax, limits, who may approve) live in ``shipyard.registry``; integrity rules
(not found, already exists, protected aliases) live here, inside the transaction.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import orjson
from sqlalchemy import (
    Connection,
    Engine,
    and_,
    delete,
    exists,
    func,
    insert,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from shipyard.entities import (
    ApprovalRequest,
    ApprovalStatus,
    AuditEvent,
    ModelVersion,
    ModelVersionStage,
    RegisteredModel,
    Webhook,
    WebhookDelivery,
)
from shipyard.errors import (
    AlreadyExists,
    ApprovalNotFound,
    ApprovalRequired,
    InvalidParameter,
    ModelVersionNotFound,
    NothingToRollBack,
    PermissionDenied,
    RegisteredModelNotFound,
)
from shipyard.store._protocol import Page
from shipyard.store._registry import Change
from shipyard.store.search import (
    Comparison,
    OrderBy,
    decode_page_token,
    encode_page_token,
    parse_model_version_filter,
    parse_model_version_order_by,
    parse_registered_model_filter,
    parse_registered_model_order_by,
)
from shipyard.store.sql._audit import AuditTxn, delivery, event_from_row
from shipyard.store.sql._dialect import upsert
from shipyard.store.sql._schema import (
    approval_requests,
    audit_events,
    audit_head,
    model_version_tags,
    model_versions,
    protected_aliases,
    registered_model_aliases,
    registered_model_tags,
    registered_models,
    webhook_deliveries,
    webhooks,
)
from shipyard.store.sql._search import compare

__all__ = ["SqlRegistryStore"]

_RM, _MV = registered_models, model_versions
_ARCHIVING_STAGES = (ModelVersionStage.STAGING.value, ModelVersionStage.PRODUCTION.value)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _put(
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


def _version_not_found(name: str, version: int | str) -> ModelVersionNotFound:
    return ModelVersionNotFound(f"Model Version (name={name}, version={version}) not found")


class SqlRegistryStore:
    """The registry over an engine shared with ``SqlStore`` (same database, same migrations)."""

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], int] = _now_ms,
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
        row = conn.execute(select(_RM).where(_RM.c.name == name)).first()
        if row is None:
            raise RegisteredModelNotFound(f"Registered Model with name={name} not found")
        return row

    @staticmethod
    def _version_row(conn: Connection, model: Any, version: int) -> Any:
        row = conn.execute(
            select(_MV).where(_MV.c.registered_model_id == model.id, _MV.c.version == version)
        ).first()
        if row is None:
            raise _version_not_found(model.name, version)
        return row

    def _touch(self, txn: AuditTxn, model_id: int, version: int | None = None) -> None:
        txn.conn.execute(update(_RM).where(_RM.c.id == model_id).values(last_updated_time=txn.now))
        if version is not None:
            txn.conn.execute(
                update(_MV)
                .where(_MV.c.registered_model_id == model_id, _MV.c.version == version)
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
        for t in conn.execute(
            select(model_version_tags).where(
                model_version_tags.c.registered_model_id.in_(model_ids)
            )
        ):
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
            select(_MV.c.registered_model_id, _MV.c.current_stage, func.max(_MV.c.version))
            .where(_MV.c.registered_model_id.in_(ids))
            .group_by(_MV.c.registered_model_id, _MV.c.current_stage)
        )
        wanted = {(m, v) for m, _stage, v in conn.execute(latest)}
        version_rows = []
        if wanted:
            version_rows = list(
                conn.execute(
                    select(_MV)
                    .where(_MV.c.registered_model_id.in_(ids))
                    .where(
                        or_(
                            *(
                                and_(_MV.c.registered_model_id == m, _MV.c.version == v)
                                for m, v in wanted
                            )
                        )
                    )
                    .order_by(_MV.c.version)
                )
            )
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

    # -- registered models --------------------------------------------------------------------
    def create_registered_model(
        self,
        name: str,
        tags: dict[str, str],
        description: str | None,
        change: Change,
    ) -> RegisteredModel:
        try:
            with self._change(change) as txn:
                seq = txn.event(
                    "model.create", name, after={"description": description, "tags": tags}
                )
                model_id = txn.conn.execute(
                    insert(_RM)
                    .values(
                        name=name,
                        creation_time=txn.now,
                        last_updated_time=txn.now,
                        description=description,
                        user_id=change.actor,
                        next_version=1,
                        created_seq=seq,
                    )
                    .returning(_RM.c.id)
                ).scalar_one()
                if tags:
                    txn.conn.execute(
                        insert(registered_model_tags),
                        [
                            {"registered_model_id": model_id, "key": k, "value": v}
                            for k, v in tags.items()
                        ],
                    )
        except IntegrityError as exc:
            raise AlreadyExists(f"Registered Model (name={name}) already exists.") from exc
        return self.get_registered_model(name)

    def get_registered_model(self, name: str) -> RegisteredModel:
        with self._read() as conn:
            return self._models(conn, [self._model_row(conn, name)])[0]

    def rename_registered_model(self, name: str, new_name: str, change: Change) -> RegisteredModel:
        try:
            with self._change(change) as txn:
                model = self._model_row(txn.conn, name)
                txn.conn.execute(
                    update(_RM)
                    .where(_RM.c.id == model.id)
                    .values(name=new_name, last_updated_time=txn.now)
                )
                txn.event("model.rename", new_name, before=name, after=new_name)
        except IntegrityError as exc:
            raise AlreadyExists(f"Registered Model (name={new_name}) already exists.") from exc
        return self.get_registered_model(new_name)

    def update_registered_model(
        self, name: str, description: str | None, change: Change
    ) -> RegisteredModel:
        with self._change(change) as txn:
            model = self._model_row(txn.conn, name)
            txn.conn.execute(
                update(_RM)
                .where(_RM.c.id == model.id)
                .values(description=description, last_updated_time=txn.now)
            )
            txn.event("model.update", name, before=model.description, after=description)
        return self.get_registered_model(name)

    def delete_registered_model(self, name: str, change: Change) -> None:
        with self._change(change) as txn:
            model = self._model_row(txn.conn, name)
            count = txn.conn.scalar(
                select(func.count()).select_from(_MV).where(_MV.c.registered_model_id == model.id)
            )
            for table in (
                model_version_tags,
                registered_model_aliases,
                protected_aliases,
                model_versions,
                registered_model_tags,
            ):
                txn.conn.execute(delete(table).where(table.c.registered_model_id == model.id))
            txn.conn.execute(
                update(approval_requests)
                .where(
                    approval_requests.c.registered_model_id == model.id,
                    approval_requests.c.status == ApprovalStatus.PENDING.value,
                )
                .values(status=ApprovalStatus.REJECTED.value, comment="model deleted")
            )
            txn.conn.execute(
                delete(approval_requests).where(approval_requests.c.registered_model_id == model.id)
            )
            txn.conn.execute(delete(_RM).where(_RM.c.id == model.id))
            txn.event("model.delete", name, before={"versions": count})

    def set_registered_model_tag(self, name: str, key: str, value: str, change: Change) -> None:
        with self._change(change) as txn:
            model = self._model_row(txn.conn, name)
            old = txn.conn.scalar(
                select(registered_model_tags.c.value).where(
                    registered_model_tags.c.registered_model_id == model.id,
                    registered_model_tags.c.key == key,
                )
            )
            _put(
                txn.conn,
                registered_model_tags,
                [{"registered_model_id": model.id, "key": key, "value": value}],
                ("registered_model_id", "key"),
                ("value",),
            )
            self._touch(txn, model.id)
            txn.event("model.tag.set", name, before=old, after=value, details={"key": key})

    def delete_registered_model_tag(self, name: str, key: str, change: Change) -> None:
        with self._change(change) as txn:
            model = self._model_row(txn.conn, name)
            old = txn.conn.scalar(
                select(registered_model_tags.c.value).where(
                    registered_model_tags.c.registered_model_id == model.id,
                    registered_model_tags.c.key == key,
                )
            )
            if old is None:
                return
            txn.conn.execute(
                delete(registered_model_tags).where(
                    registered_model_tags.c.registered_model_id == model.id,
                    registered_model_tags.c.key == key,
                )
            )
            self._touch(txn, model.id)
            txn.event("model.tag.delete", name, before=old, details={"key": key})

    def search_registered_models(
        self,
        filter_string: str | None,
        max_results: int,
        order_by: Sequence[str],
        page_token: str | None,
    ) -> Page[RegisteredModel]:
        dialect = self._dialect()
        query = select(_RM)
        for c in parse_registered_model_filter(filter_string):
            query = query.where(self._model_cond(c, dialect))
        clauses = [self._model_order(o) for o in parse_registered_model_order_by(order_by)]
        if not any(o.key == "name" for o in parse_registered_model_order_by(order_by)):
            clauses.append(_RM.c.name.asc())
        offset = decode_page_token(page_token)
        with self._read() as conn:
            rows = list(
                conn.execute(query.order_by(*clauses).limit(max_results + 1).offset(offset))
            )
            items = self._models(conn, rows[:max_results])
        token = encode_page_token(offset + max_results) if len(rows) > max_results else None
        return Page(items, token)

    @staticmethod
    def _model_cond(c: Comparison, dialect: str) -> Any:
        if c.kind == "tag":
            t = registered_model_tags
            base = and_(t.c.registered_model_id == _RM.c.id, t.c.key == c.key)
            if c.op == "!=":
                # MLflow's client filters prompts out with ``tag.x != 'true'``: a model without
                # the tag must match.
                return not_(exists().where(base, t.c.value == c.value))
            return exists().where(base, compare(t.c.value, c.op, c.value, dialect))
        col = {
            "name": _RM.c.name,
            "creation_timestamp": _RM.c.creation_time,
            "last_updated_timestamp": _RM.c.last_updated_time,
        }[c.key]
        return compare(col, c.op, c.value, dialect)

    @staticmethod
    def _model_order(o: OrderBy) -> Any:
        col = {
            "name": _RM.c.name,
            "creation_timestamp": _RM.c.creation_time,
            "last_updated_timestamp": _RM.c.last_updated_time,
        }[o.key]
        return col.asc() if o.ascending else col.desc()

    # -- model versions -----------------------------------------------------------------------
    def create_model_version(
        self,
        name: str,
        source: str,
        change: Change,
        *,
        run_id: str | None = None,
        tags: dict[str, str] | None = None,
        run_link: str | None = None,
        description: str | None = None,
        model_id: str | None = None,
        lineage: dict[str, Any] | None = None,
    ) -> ModelVersion:
        with self._change(change) as txn:
            model = self._model_row(txn.conn, name)
            version = int(model.next_version)
            txn.conn.execute(
                update(_RM)
                .where(_RM.c.id == model.id)
                .values(next_version=version + 1, last_updated_time=txn.now)
            )
            txn.conn.execute(
                insert(_MV).values(
                    registered_model_id=model.id,
                    version=version,
                    creation_time=txn.now,
                    last_updated_time=txn.now,
                    user_id=change.actor,
                    current_stage=ModelVersionStage.NONE.value,
                    description=description,
                    source=source,
                    run_id=run_id,
                    run_link=run_link,
                    logged_model_id=model_id,
                    status="READY",
                    lineage=orjson.dumps(lineage or {}).decode(),
                )
            )
            if tags:
                txn.conn.execute(
                    insert(model_version_tags),
                    [
                        {"registered_model_id": model.id, "version": version, "key": k, "value": v}
                        for k, v in tags.items()
                    ],
                )
            txn.event(
                "version.create",
                name,
                version=version,
                after={"source": source, "run_id": run_id, "model_id": model_id},
            )
            return self._version_entity(txn.conn, model, version)

    def get_model_version(self, name: str, version: int) -> ModelVersion:
        with self._read() as conn:
            return self._version_entity(conn, self._model_row(conn, name), version)

    def get_lineage(self, name: str, version: int) -> dict[str, Any]:
        with self._read() as conn:
            row = self._version_row(conn, self._model_row(conn, name), version)
            return dict(orjson.loads(row.lineage or "{}"))

    def update_model_version(
        self, name: str, version: int, description: str | None, change: Change
    ) -> ModelVersion:
        with self._change(change) as txn:
            model = self._model_row(txn.conn, name)
            row = self._version_row(txn.conn, model, version)
            txn.conn.execute(
                update(_MV)
                .where(_MV.c.registered_model_id == model.id, _MV.c.version == version)
                .values(description=description, last_updated_time=txn.now)
            )
            txn.event(
                "version.update", name, version=version, before=row.description, after=description
            )
            return self._version_entity(txn.conn, model, version)

    def delete_model_version(self, name: str, version: int, change: Change) -> None:
        with self._change(change) as txn:
            model = self._model_row(txn.conn, name)
            row = self._version_row(txn.conn, model, version)
            where_version = {"registered_model_id": model.id, "version": version}
            dropped = [
                a.alias
                for a in txn.conn.execute(
                    select(registered_model_aliases.c.alias).filter_by(**where_version)
                )
            ]
            for table in (model_version_tags, registered_model_aliases, model_versions):
                txn.conn.execute(delete(table).filter_by(**where_version))
            self._touch(txn, model.id)
            for alias in dropped:
                txn.event(
                    "alias.delete",
                    name,
                    alias=alias,
                    before=str(version),
                    details={"cause": "version deleted"},
                )
            txn.event(
                "version.delete",
                name,
                version=version,
                before={"source": row.source, "stage": row.current_stage},
            )

    def set_model_version_tag(
        self, name: str, version: int, key: str, value: str, change: Change
    ) -> None:
        with self._change(change) as txn:
            model = self._model_row(txn.conn, name)
            self._version_row(txn.conn, model, version)
            t = model_version_tags
            old = txn.conn.scalar(
                select(t.c.value).where(
                    t.c.registered_model_id == model.id, t.c.version == version, t.c.key == key
                )
            )
            _put(
                txn.conn,
                t,
                [{"registered_model_id": model.id, "version": version, "key": key, "value": value}],
                ("registered_model_id", "version", "key"),
                ("value",),
            )
            self._touch(txn, model.id, version)
            txn.event(
                "version.tag.set",
                name,
                version=version,
                before=old,
                after=value,
                details={"key": key},
            )

    def delete_model_version_tag(self, name: str, version: int, key: str, change: Change) -> None:
        with self._change(change) as txn:
            model = self._model_row(txn.conn, name)
            self._version_row(txn.conn, model, version)
            t = model_version_tags
            where = (t.c.registered_model_id == model.id, t.c.version == version, t.c.key == key)
            old = txn.conn.scalar(select(t.c.value).where(*where))
            if old is None:
                return
            txn.conn.execute(delete(t).where(*where))
            self._touch(txn, model.id, version)
            txn.event("version.tag.delete", name, version=version, before=old, details={"key": key})

    def transition_stage(
        self,
        name: str,
        version: int,
        stage: ModelVersionStage,
        archive_existing_versions: bool,
        change: Change,
    ) -> ModelVersion:
        with self._change(change) as txn:
            model = self._model_row(txn.conn, name)
            row = self._version_row(txn.conn, model, version)
            if archive_existing_versions and stage.value in _ARCHIVING_STAGES:
                others = list(
                    txn.conn.execute(
                        select(_MV.c.version, _MV.c.current_stage).where(
                            _MV.c.registered_model_id == model.id,
                            _MV.c.current_stage == stage.value,
                            _MV.c.version != version,
                        )
                    )
                )
                for other in others:
                    txn.conn.execute(
                        update(_MV)
                        .where(
                            _MV.c.registered_model_id == model.id, _MV.c.version == other.version
                        )
                        .values(
                            current_stage=ModelVersionStage.ARCHIVED.value,
                            last_updated_time=txn.now,
                        )
                    )
                    txn.event(
                        "version.stage",
                        name,
                        version=other.version,
                        before=other.current_stage,
                        after=ModelVersionStage.ARCHIVED.value,
                        details={"archived_by": str(version)},
                    )
            txn.conn.execute(
                update(_MV)
                .where(_MV.c.registered_model_id == model.id, _MV.c.version == version)
                .values(current_stage=stage.value, last_updated_time=txn.now)
            )
            self._touch(txn, model.id)
            txn.event(
                "version.stage", name, version=version, before=row.current_stage, after=stage.value
            )
            return self._version_entity(txn.conn, model, version)

    def get_latest_versions(
        self, name: str, stages: Sequence[ModelVersionStage]
    ) -> list[ModelVersion]:
        wanted = [s.value for s in stages] or [s.value for s in ModelVersionStage]
        with self._read() as conn:
            model = self._model_row(conn, name)
            latest = dict(
                conn.execute(
                    select(_MV.c.current_stage, func.max(_MV.c.version))
                    .where(_MV.c.registered_model_id == model.id, _MV.c.current_stage.in_(wanted))
                    .group_by(_MV.c.current_stage)
                ).all()
            )
            versions = [latest[s] for s in wanted if s in latest]
            if not versions:
                return []
            rows = {
                r.version: r
                for r in conn.execute(
                    select(_MV).where(
                        _MV.c.registered_model_id == model.id, _MV.c.version.in_(versions)
                    )
                )
            }
            return self._versions(conn, {model.id: model.name}, [rows[v] for v in versions])

    def search_model_versions(
        self,
        filter_string: str | None,
        max_results: int,
        order_by: Sequence[str],
        page_token: str | None,
    ) -> Page[ModelVersion]:
        dialect = self._dialect()
        query = select(_MV, _RM.c.name).join(_RM, _RM.c.id == _MV.c.registered_model_id)
        for c in parse_model_version_filter(filter_string):
            query = query.where(self._version_cond(c, dialect))
        orders = parse_model_version_order_by(order_by)
        clauses = [self._version_order(o) for o in orders]
        keys = {o.key for o in orders}
        if "name" not in keys:
            clauses.append(_RM.c.name.asc())
        if "version_number" not in keys:
            clauses.append(_MV.c.version.desc())
        offset = decode_page_token(page_token)
        with self._read() as conn:
            rows = list(
                conn.execute(query.order_by(*clauses).limit(max_results + 1).offset(offset))
            )
            page = rows[:max_results]
            names = {r.registered_model_id: r.name for r in page}
            items = self._versions(conn, names, page)
        token = encode_page_token(offset + max_results) if len(rows) > max_results else None
        return Page(items, token)

    @staticmethod
    def _version_cond(c: Comparison, dialect: str) -> Any:
        if c.kind == "tag":
            t = model_version_tags
            base = and_(
                t.c.registered_model_id == _MV.c.registered_model_id,
                t.c.version == _MV.c.version,
                t.c.key == c.key,
            )
            if c.op == "!=":
                return not_(exists().where(base, t.c.value == c.value))
            return exists().where(base, compare(t.c.value, c.op, c.value, dialect))
        col = {
            "name": _RM.c.name,
            "run_id": _MV.c.run_id,
            "source_path": _MV.c.source,
            "version_number": _MV.c.version,
            "creation_timestamp": _MV.c.creation_time,
            "last_updated_timestamp": _MV.c.last_updated_time,
        }[c.key]
        return compare(col, c.op, c.value, dialect)

    @staticmethod
    def _version_order(o: OrderBy) -> Any:
        col = {
            "name": _RM.c.name,
            "run_id": _MV.c.run_id,
            "source_path": _MV.c.source,
            "version_number": _MV.c.version,
            "creation_timestamp": _MV.c.creation_time,
            "last_updated_timestamp": _MV.c.last_updated_time,
        }[o.key]
        return col.asc() if o.ascending else col.desc()

    # -- aliases ------------------------------------------------------------------------------
    def _move_alias(
        self,
        txn: AuditTxn,
        model: Any,
        alias: str,
        version: int,
        action: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        self._version_row(txn.conn, model, version)
        a = registered_model_aliases
        old = txn.conn.scalar(
            select(a.c.version).where(a.c.registered_model_id == model.id, a.c.alias == alias)
        )
        _put(
            txn.conn,
            a,
            [{"registered_model_id": model.id, "alias": alias, "version": version}],
            ("registered_model_id", "alias"),
            ("version",),
        )
        self._touch(txn, model.id)
        txn.event(
            action,
            model.name,
            version=version,
            alias=alias,
            before=None if old is None else str(old),
            after=str(version),
            details=details,
        )

    @staticmethod
    def _protection(conn: Connection, model: Any, alias: str) -> int | None:
        return conn.scalar(  # type: ignore[no-any-return]
            select(protected_aliases.c.approvals_required).where(
                protected_aliases.c.registered_model_id == model.id,
                protected_aliases.c.alias == alias,
            )
        )

    def set_alias(
        self,
        name: str,
        alias: str,
        version: int,
        change: Change,
        *,
        details: dict[str, Any] | None = None,
    ) -> ModelVersion:
        """Point ``alias`` at ``version``; ``ApprovalRequired`` if the alias is protected."""
        with self._change(change) as txn:
            model = self._model_row(txn.conn, name)
            if self._protection(txn.conn, model, alias):
                raise ApprovalRequired(
                    f"Alias '{alias}' of registered model '{name}' is protected: moving it needs "
                    f"an approved request (shipyard models alias {name} {alias} {version} "
                    f"--reason ... files one; a second person approves it)."
                )
            self._move_alias(txn, model, alias, version, "alias.set", details)
            return self._version_entity(txn.conn, model, version)

    def delete_alias(self, name: str, alias: str, change: Change) -> None:
        with self._change(change) as txn:
            model = self._model_row(txn.conn, name)
            a = registered_model_aliases
            where = (a.c.registered_model_id == model.id, a.c.alias == alias)
            old = txn.conn.scalar(select(a.c.version).where(*where))
            if old is None:
                return  # MLflow: deleting an absent alias is not an error
            if self._protection(txn.conn, model, alias):
                raise ApprovalRequired(
                    f"Alias '{alias}' of registered model '{name}' is protected; unprotect it "
                    f"before deleting it."
                )
            txn.conn.execute(delete(a).where(*where))
            self._touch(txn, model.id)
            txn.event("alias.delete", name, alias=alias, before=str(old))

    def get_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        with self._read() as conn:
            model = self._model_row(conn, name)
            a = registered_model_aliases
            version = conn.scalar(
                select(a.c.version).where(a.c.registered_model_id == model.id, a.c.alias == alias)
            )
            if version is None:
                raise InvalidParameter(
                    f"Registered model alias {alias} not found for model {name}."
                )
            return self._version_entity(conn, model, version)

    def protect_alias(self, name: str, alias: str, protect: bool, change: Change) -> None:
        with self._change(change) as txn:
            model = self._model_row(txn.conn, name)
            current = self._protection(txn.conn, model, alias)
            if protect and current is None:
                txn.conn.execute(
                    insert(protected_aliases).values(
                        registered_model_id=model.id, alias=alias, approvals_required=1
                    )
                )
                txn.event("alias.protect", name, alias=alias, before=False, after=True)
            elif not protect and current is not None:
                txn.conn.execute(
                    delete(protected_aliases).where(
                        protected_aliases.c.registered_model_id == model.id,
                        protected_aliases.c.alias == alias,
                    )
                )
                txn.event("alias.unprotect", name, alias=alias, before=True, after=False)

    # -- rollback -----------------------------------------------------------------------------
    @staticmethod
    def _alias_history(conn: Connection, model: Any, alias: str) -> list[str]:
        """The alias's stack of versions: moves push, rollbacks pop (from the audit trail)."""
        names = {model.name}
        floor = int(model.created_seq or 0)
        renames = conn.execute(
            select(audit_events.c.body)
            .where(audit_events.c.action == "model.rename", audit_events.c.seq > floor)
            .order_by(audit_events.c.seq.desc())
        )
        for r in renames:
            body = orjson.loads(r.body)
            if body.get("after") in names:
                names.add(body["before"])
        stack: list[str] = []
        events = conn.execute(
            select(audit_events.c.action, audit_events.c.body)
            .where(
                audit_events.c.seq > floor,
                audit_events.c.model_name.in_(names),
                audit_events.c.alias == alias,
                audit_events.c.action.in_(("alias.set", "alias.rollback")),
            )
            .order_by(audit_events.c.seq)
        )
        for e in events:
            body = orjson.loads(e.body)
            if e.action == "alias.rollback":
                if stack:
                    stack.pop()
                if not stack or stack[-1] != body["after"]:
                    stack.append(body["after"])
            elif not stack or stack[-1] != body["after"]:
                stack.append(body["after"])
        return stack

    def rollback_alias(self, name: str, alias: str, change: Change) -> ModelVersion:
        with self._change(change) as txn:
            model = self._model_row(txn.conn, name)
            a = registered_model_aliases
            current = txn.conn.scalar(
                select(a.c.version).where(a.c.registered_model_id == model.id, a.c.alias == alias)
            )
            if current is None:
                raise NothingToRollBack(
                    f"Alias '{alias}' of registered model '{name}' is not set; "
                    "nothing to roll back."
                )
            existing = {
                str(v)
                for v in txn.conn.scalars(
                    select(_MV.c.version).where(_MV.c.registered_model_id == model.id)
                )
            }
            stack = self._alias_history(txn.conn, model, alias)
            while stack and stack[-1] == str(current):
                stack.pop()
            target = next((v for v in reversed(stack) if v in existing), None)
            if target is None:
                raise NothingToRollBack(
                    f"Alias '{alias}' of registered model '{name}' has pointed at no earlier "
                    f"version that still exists (it is at version {current}); nothing to roll "
                    f"back to."
                )
            self._move_alias(
                txn, model, alias, int(target), "alias.rollback", {"from": str(current)}
            )
            return self._version_entity(txn.conn, model, int(target))

    # -- approvals ----------------------------------------------------------------------------
    @staticmethod
    def _approval(row: Any, name: str) -> ApprovalRequest:
        return ApprovalRequest(
            id=row.id,
            name=name,
            alias=row.alias,
            version=str(row.version),
            requested_by=row.requested_by,
            created_time=row.created_time,
            status=row.status,
            reason=row.reason,
            decided_by=row.decided_by,
            decided_time=row.decided_time,
            comment=row.comment,
        )

    def request_approval(
        self, name: str, alias: str, version: int, change: Change
    ) -> ApprovalRequest:
        request_id = self._new_id()
        with self._change(change) as txn:
            model = self._model_row(txn.conn, name)
            self._version_row(txn.conn, model, version)
            txn.conn.execute(
                insert(approval_requests).values(
                    id=request_id,
                    registered_model_id=model.id,
                    alias=alias,
                    version=version,
                    requested_by=change.actor,
                    reason=change.reason,
                    created_time=txn.now,
                    status=ApprovalStatus.PENDING.value,
                )
            )
            txn.event(
                "approval.request",
                name,
                version=version,
                alias=alias,
                after=ApprovalStatus.PENDING.value,
                details={"request_id": request_id},
            )
            row = txn.conn.execute(
                select(approval_requests).where(approval_requests.c.id == request_id)
            ).one()
            return self._approval(row, name)

    def decide_approval(
        self, request_id: str, approve: bool, comment: str | None, change: Change
    ) -> ApprovalRequest:
        with self._change(change) as txn:
            row = txn.conn.execute(
                select(approval_requests, _RM.c.name)
                .join(_RM, _RM.c.id == approval_requests.c.registered_model_id)
                .where(approval_requests.c.id == request_id)
            ).first()
            if row is None:
                raise ApprovalNotFound(f"Approval request {request_id} not found")
            if row.status != ApprovalStatus.PENDING.value:
                raise InvalidParameter(
                    f"Approval request {request_id} was already decided ({row.status} by "
                    f"{row.decided_by})."
                )
            if row.requested_by == change.actor:
                raise PermissionDenied(
                    f"{change.actor} requested this move; a second person must approve or "
                    f"reject it."
                )
            status = ApprovalStatus.APPROVED if approve else ApprovalStatus.REJECTED
            txn.conn.execute(
                update(approval_requests)
                .where(approval_requests.c.id == request_id)
                .values(
                    status=status.value,
                    decided_by=change.actor,
                    decided_time=txn.now,
                    comment=comment,
                )
            )
            txn.event(
                "approval.approve" if approve else "approval.reject",
                row.name,
                version=row.version,
                alias=row.alias,
                before=ApprovalStatus.PENDING.value,
                after=status.value,
                details={
                    "request_id": request_id,
                    "comment": comment,
                    "requested_by": row.requested_by,
                },
            )
            if approve:
                model = self._model_row(txn.conn, row.name)
                self._move_alias(
                    txn,
                    model,
                    row.alias,
                    int(row.version),
                    "alias.set",
                    {
                        "request_id": request_id,
                        "requested_by": row.requested_by,
                        "approved_by": change.actor,
                    },
                )
            updated = txn.conn.execute(
                select(approval_requests).where(approval_requests.c.id == request_id)
            ).one()
            return self._approval(updated, row.name)

    def list_approvals(
        self, name: str | None = None, status: str | None = None
    ) -> list[ApprovalRequest]:
        query = (
            select(approval_requests, _RM.c.name)
            .join(_RM, _RM.c.id == approval_requests.c.registered_model_id)
            .order_by(approval_requests.c.created_time, approval_requests.c.id)
        )
        if name is not None:
            query = query.where(_RM.c.name == name)
        if status is not None:
            query = query.where(approval_requests.c.status == status)
        with self._read() as conn:
            return [self._approval(r, r.name) for r in conn.execute(query)]

    # -- the audit trail ----------------------------------------------------------------------
    def record_event(
        self,
        name: str,
        action: str,
        details: dict[str, Any],
        change: Change,
        *,
        version: int | None = None,
        alias: str | None = None,
    ) -> AuditEvent:
        with self._change(change) as txn:
            model = self._model_row(txn.conn, name)
            if version is not None:
                self._version_row(txn.conn, model, version)
            seq = txn.event(action, name, version=version, alias=alias, details=details)
            row = txn.conn.execute(select(audit_events).where(audit_events.c.seq == seq)).one()
            return event_from_row(row)

    def list_events(
        self,
        name: str | None = None,
        *,
        after_seq: int = 0,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[AuditEvent]:
        query = select(audit_events).where(audit_events.c.seq > after_seq)
        if name is not None:
            query = query.where(audit_events.c.model_name == name)
        query = query.order_by(audit_events.c.seq.desc() if newest_first else audit_events.c.seq)
        if limit is not None:
            query = query.limit(limit)
        with self._read() as conn:
            return [event_from_row(r) for r in conn.execute(query)]

    def audit_head(self) -> tuple[int, str]:
        with self._read() as conn:
            row = conn.execute(
                select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)
            ).one()
            return int(row.seq), str(row.hash)

    # -- webhooks -----------------------------------------------------------------------------
    def create_webhook(
        self, url: str, secret: str, events: list[str], model_name: str | None, change: Change
    ) -> Webhook:
        hook_id = self._new_id()
        with self._change(change) as txn:
            txn.conn.execute(
                insert(webhooks).values(
                    id=hook_id,
                    url=url,
                    secret=secret,
                    events=orjson.dumps(events).decode(),
                    model_name=model_name,
                    active=True,
                    created_time=txn.now,
                )
            )
            txn.event(
                "webhook.create", model_name, after={"id": hook_id, "url": url, "events": events}
            )
        return Webhook(hook_id, url, events, txn.now, model_name, True, secret)

    def list_webhooks(self) -> list[Webhook]:
        with self._read() as conn:
            return [
                Webhook(
                    r.id,
                    r.url,
                    orjson.loads(r.events),
                    r.created_time,
                    r.model_name,
                    r.active,
                    r.secret,
                )
                for r in conn.execute(select(webhooks).order_by(webhooks.c.created_time))
            ]

    def delete_webhook(self, hook_id: str, change: Change) -> None:
        with self._change(change) as txn:
            row = txn.conn.execute(select(webhooks).where(webhooks.c.id == hook_id)).first()
            if row is None:
                raise InvalidParameter(f"Webhook {hook_id} not found")
            txn.conn.execute(
                delete(webhook_deliveries).where(webhook_deliveries.c.webhook_id == hook_id)
            )
            txn.conn.execute(delete(webhooks).where(webhooks.c.id == hook_id))
            txn.event("webhook.delete", row.model_name, before={"id": hook_id, "url": row.url})

    def claim_deliveries(
        self, now: int, lease_ms: int, limit: int = 20
    ) -> list[tuple[WebhookDelivery, Webhook, AuditEvent]]:
        """Take due deliveries for ``lease_ms``; another worker skips them meanwhile."""
        d = webhook_deliveries
        with self.engine.connect() as conn:
            conn.execution_options(shipyard_write=True)
            with conn.begin():
                due = list(
                    conn.execute(
                        select(d)
                        .where(
                            d.c.status == "PENDING",
                            d.c.next_attempt_ms <= now,
                            or_(d.c.lease_until_ms.is_(None), d.c.lease_until_ms <= now),
                        )
                        .order_by(d.c.id)
                        .limit(limit)
                    )
                )
                claimed = []
                for row in due:
                    result = conn.execute(
                        update(d)
                        .where(
                            d.c.id == row.id,
                            or_(d.c.lease_until_ms.is_(None), d.c.lease_until_ms <= now),
                        )
                        .values(lease_until_ms=now + lease_ms)
                    )
                    if result.rowcount == 1:
                        claimed.append(row)
                out = []
                for row in claimed:
                    hook = conn.execute(
                        select(webhooks).where(webhooks.c.id == row.webhook_id)
                    ).one()
                    event = conn.execute(
                        select(audit_events).where(audit_events.c.seq == row.event_seq)
                    ).one()
                    out.append(
                        (
                            delivery(row),
                            Webhook(
                                hook.id,
                                hook.url,
                                orjson.loads(hook.events),
                                hook.created_time,
                                hook.model_name,
                                hook.active,
                                hook.secret,
                            ),
                            event_from_row(event),
                        )
                    )
                return out

    def finish_delivery(
        self,
        delivery_id: int,
        *,
        delivered: bool,
        status_code: int | None,
        error: str | None,
        retry_at: int | None,
    ) -> None:
        """Record an attempt: delivered, retry at ``retry_at``, or failed for good (None)."""
        now = self._clock()
        d = webhook_deliveries
        status = "DELIVERED" if delivered else "PENDING" if retry_at is not None else "FAILED"
        with self.engine.connect() as conn:
            conn.execution_options(shipyard_write=True)
            with conn.begin():
                conn.execute(
                    update(d)
                    .where(d.c.id == delivery_id)
                    .values(
                        status=status,
                        attempts=d.c.attempts + 1,
                        last_status_code=status_code,
                        last_error=error,
                        lease_until_ms=None,
                        next_attempt_ms=retry_at if retry_at is not None else now,
                        delivered_time=now if delivered else None,
                    )
                )

    def list_deliveries(self, hook_id: str | None = None) -> list[WebhookDelivery]:
        query = select(webhook_deliveries).order_by(webhook_deliveries.c.id)
        if hook_id is not None:
            query = query.where(webhook_deliveries.c.webhook_id == hook_id)
        with self._read() as conn:
            return [delivery(r) for r in conn.execute(query)]
