"""Aliases in the SQL registry: moves, protection, rollback from the audit trail, and the
approval requests that move a protected alias."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, delete, insert, select, update

from shipyard.entities import ApprovalRequest, ApprovalStatus, ModelVersion
from shipyard.errors import (
    ApprovalNotFound,
    ApprovalRequired,
    InvalidParameter,
    NothingToRollBack,
    PermissionDenied,
)
from shipyard.store._registry import Change
from shipyard.store.sql._audit import AuditTxn
from shipyard.store.sql._registry_base import MV, RM, RegistryBase, put_rows
from shipyard.store.sql._schema import (
    approval_requests,
    audit_events,
    protected_aliases,
    registered_model_aliases,
)

__all__ = ["AliasStore"]


class AliasStore(RegistryBase):
    """Alias moves, protection, rollback and approvals."""

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
        put_rows(
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
        a = registered_model_aliases
        with self._read() as conn:
            row = conn.execute(  # model, alias and version in one read: the serving hot path
                select(MV)
                .join(RM, RM.c.id == MV.c.registered_model_id)
                .join(a, (a.c.registered_model_id == RM.c.id) & (a.c.version == MV.c.version))
                .where(RM.c.name == name, a.c.alias == alias)
            ).first()
            if row is None:
                self._model_row(conn, name)  # an unknown model is RESOURCE_DOES_NOT_EXIST
                raise InvalidParameter(
                    f"Registered model alias {alias} not found for model {name}."
                )
            return self._versions(conn, {row.registered_model_id: name}, [row])[0]

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
                    select(MV.c.version).where(MV.c.registered_model_id == model.id)
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
                select(approval_requests, RM.c.name)
                .join(RM, RM.c.id == approval_requests.c.registered_model_id)
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
            select(approval_requests, RM.c.name)
            .join(RM, RM.c.id == approval_requests.c.registered_model_id)
            .order_by(approval_requests.c.created_time, approval_requests.c.id)
        )
        if name is not None:
            query = query.where(RM.c.name == name)
        if status is not None:
            query = query.where(approval_requests.c.status == status)
        with self._read() as conn:
            return [self._approval(r, r.name) for r in conn.execute(query)]
