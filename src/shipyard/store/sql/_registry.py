"""The model registry in SQL: registered models, versions, tags, aliases, stages, approvals.

Every write runs in one transaction that starts by locking the audit chain's head (see
``_audit.AuditTxn``) and appends the events that describe it, so concurrent writers are
serialised, "before" values are what the previous writer left, and nothing changes unrecorded.
Input rules (name syntax, limits, who may approve) live in ``shipyard.registry``; integrity rules
(not found, already exists, protected aliases) live here, inside the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from shipyard.entities import ModelVersion, ModelVersionStage, RegisteredModel
from shipyard.errors import AlreadyExists
from shipyard.store._registry import Change
from shipyard.store.sql._registry_aliases import AliasStore
from shipyard.store.sql._registry_base import (
    ARCHIVING_STAGES,
    MV,
    RM,
    put_rows,
    version_not_found,
)
from shipyard.store.sql._registry_events import EventStore
from shipyard.store.sql._registry_search import SearchStore
from shipyard.store.sql._schema import (
    approval_requests,
    model_version_tags,
    model_versions,
    protected_aliases,
    registered_model_aliases,
    registered_model_tags,
)

__all__ = ["SqlRegistryStore"]


class SqlRegistryStore(AliasStore, EventStore, SearchStore):
    """The registry over an engine shared with ``SqlStore`` (same database, same migrations).

    Models, versions and stages live here; aliases and approvals come from ``AliasStore``, the
    audit trail and webhooks from ``EventStore``, search from ``SearchStore``.
    """

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
                    insert(RM)
                    .values(
                        name=name,
                        creation_time=txn.now,
                        last_updated_time=txn.now,
                        description=description,
                        user_id=change.actor,
                        next_version=1,
                        created_seq=seq,
                    )
                    .returning(RM.c.id)
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
                    update(RM)
                    .where(RM.c.id == model.id)
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
                update(RM)
                .where(RM.c.id == model.id)
                .values(description=description, last_updated_time=txn.now)
            )
            txn.event("model.update", name, before=model.description, after=description)
        return self.get_registered_model(name)

    def delete_registered_model(self, name: str, change: Change) -> None:
        with self._change(change) as txn:
            model = self._model_row(txn.conn, name)
            count = txn.conn.scalar(
                select(func.count()).select_from(MV).where(MV.c.registered_model_id == model.id)
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
                delete(approval_requests).where(approval_requests.c.registered_model_id == model.id)
            )
            txn.conn.execute(delete(RM).where(RM.c.id == model.id))
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
            put_rows(
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
        storage_location: str | None = None,
    ) -> ModelVersion:
        with self._change(change) as txn:
            model = self._model_row(txn.conn, name)
            version = int(model.next_version)
            txn.conn.execute(
                update(RM)
                .where(RM.c.id == model.id)
                .values(next_version=version + 1, last_updated_time=txn.now)
            )
            txn.conn.execute(
                insert(MV).values(
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
                    storage_location=storage_location,
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

    def get_location(self, name: str, version: int) -> tuple[str, str | None]:
        """(source, storage location) of a version in one read; the location may be None."""
        with self._read() as conn:
            row = conn.execute(
                select(MV.c.source, MV.c.storage_location)
                .join(RM, RM.c.id == MV.c.registered_model_id)
                .where(RM.c.name == name, MV.c.version == version)
            ).first()
            if row is None:
                self._model_row(conn, name)  # names a missing model first, as MLflow does
                raise version_not_found(name, version)
            return row.source, row.storage_location

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
                update(MV)
                .where(MV.c.registered_model_id == model.id, MV.c.version == version)
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
            put_rows(
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
            if archive_existing_versions and stage.value in ARCHIVING_STAGES:
                others = list(
                    txn.conn.execute(
                        select(MV.c.version, MV.c.current_stage).where(
                            MV.c.registered_model_id == model.id,
                            MV.c.current_stage == stage.value,
                            MV.c.version != version,
                        )
                    )
                )
                for other in others:
                    txn.conn.execute(
                        update(MV)
                        .where(MV.c.registered_model_id == model.id, MV.c.version == other.version)
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
                update(MV)
                .where(MV.c.registered_model_id == model.id, MV.c.version == version)
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
                    select(MV.c.current_stage, func.max(MV.c.version))
                    .where(MV.c.registered_model_id == model.id, MV.c.current_stage.in_(wanted))
                    .group_by(MV.c.current_stage)
                ).all()
            )
            versions = [latest[s] for s in wanted if s in latest]
            if not versions:
                return []
            rows = {
                r.version: r
                for r in conn.execute(
                    select(MV).where(
                        MV.c.registered_model_id == model.id, MV.c.version.in_(versions)
                    )
                )
            }
            return self._versions(conn, {model.id: model.name}, [rows[v] for v in versions])
