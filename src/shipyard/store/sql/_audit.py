"""The audit trail in SQL: a transaction helper that appends hash-chained events.

``AuditTxn`` locks the chain's head row first (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite
writers already hold the database's write lock), so registry writes are serialised: events get
gap-free sequence numbers in commit order and a write reads the state the previous one left.
Each event also queues a delivery for every matching webhook (the outbox), in the same
transaction.
"""

from __future__ import annotations

import fnmatch
from typing import Any

import orjson
from sqlalchemy import Connection, insert, select, update

from shipyard.entities import AuditEvent, WebhookDelivery
from shipyard.store._audit_chain import encode_body, event_hash
from shipyard.store._registry import Change
from shipyard.store.sql._schema import audit_events, audit_head, webhook_deliveries, webhooks

__all__ = ["AuditTxn", "delivery", "event_from_row", "matches"]


def matches(patterns: list[str], action: str) -> bool:
    """Whether a webhook subscribed to ``patterns`` (``*``, ``alias.*``, ``version.create``...)
    receives ``action``."""
    return any(fnmatch.fnmatchcase(action, p) for p in patterns)


class AuditTxn:
    """Appends events within one write transaction; ``finish`` moves the head."""

    def __init__(self, conn: Connection, now: int, change: Change) -> None:
        self.conn = conn
        self.now = now
        self.change = change
        head = conn.execute(
            select(audit_head.c.seq, audit_head.c.hash)
            .where(audit_head.c.id == 1)
            .with_for_update()
        ).one()
        self.seq, self.hash = int(head.seq), str(head.hash)
        self._start = self.seq
        self._hooks: list[Any] | None = None

    def event(
        self,
        action: str,
        model_name: str | None,
        *,
        version: int | str | None = None,
        alias: str | None = None,
        before: Any = None,
        after: Any = None,
        details: dict[str, Any] | None = None,
    ) -> int:
        seq = self.seq + 1
        body = encode_body(before, after, self.change.reason, details or {})
        ver = None if version is None else str(version)
        digest = event_hash(
            self.hash, seq, self.now, self.change.actor, action, model_name, ver, alias, body
        )
        self.conn.execute(
            insert(audit_events).values(
                seq=seq,
                time_ms=self.now,
                actor=self.change.actor,
                action=action,
                model_name=model_name,
                version=ver,
                alias=alias,
                body=body,
                prev_hash=self.hash,
                hash=digest,
            )
        )
        self.seq, self.hash = seq, digest
        self._queue_deliveries(seq, action, model_name)
        return seq

    def _queue_deliveries(self, seq: int, action: str, model_name: str | None) -> None:
        if self._hooks is None:
            self._hooks = list(
                self.conn.execute(
                    select(webhooks.c.id, webhooks.c.events, webhooks.c.model_name).where(
                        webhooks.c.active.is_(True)
                    )
                )
            )
        rows = [
            {
                "webhook_id": hook.id,
                "event_seq": seq,
                "status": "PENDING",
                "attempts": 0,
                "next_attempt_ms": self.now,
                "created_time": self.now,
            }
            for hook in self._hooks
            if matches(orjson.loads(hook.events), action)
            and (hook.model_name is None or hook.model_name == model_name)
        ]
        if rows:
            self.conn.execute(insert(webhook_deliveries), rows)

    def finish(self) -> None:
        if self.seq != self._start:
            self.conn.execute(
                update(audit_head).where(audit_head.c.id == 1).values(seq=self.seq, hash=self.hash)
            )


def event_from_row(row: Any) -> AuditEvent:
    body = orjson.loads(row.body)
    return AuditEvent(
        seq=int(row.seq),
        time_ms=int(row.time_ms),
        actor=row.actor,
        action=row.action,
        model_name=row.model_name,
        version=row.version,
        alias=row.alias,
        before=body.get("before"),
        after=body.get("after"),
        reason=body.get("reason"),
        details=body.get("details") or {},
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def delivery(row: Any) -> WebhookDelivery:
    return WebhookDelivery(
        id=int(row.id),
        webhook_id=row.webhook_id,
        event_seq=int(row.event_seq),
        status=row.status,
        attempts=int(row.attempts),
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        delivered_time=row.delivered_time,
    )
