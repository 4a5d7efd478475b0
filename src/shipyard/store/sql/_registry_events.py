"""The SQL registry's audit-trail reads and custom events, webhooks and their deliveries."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import delete, insert, or_, select, update

from shipyard.entities import AuditEvent, Webhook, WebhookDelivery
from shipyard.errors import InvalidParameter
from shipyard.store._registry import Change
from shipyard.store.sql._audit import delivery, event_from_row
from shipyard.store.sql._registry_base import RegistryBase
from shipyard.store.sql._schema import audit_events, audit_head, webhook_deliveries, webhooks

__all__ = ["EventStore"]


class EventStore(RegistryBase):
    """Audit-trail reads, custom events and webhook deliveries."""

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
        due_now = (
            d.c.status == "PENDING",
            d.c.next_attempt_ms <= now,
            or_(d.c.lease_until_ms.is_(None), d.c.lease_until_ms <= now),
        )
        with self._read() as conn:  # the usual answer is "nothing": no write lock for that
            if conn.scalar(select(d.c.id).where(*due_now).limit(1)) is None:
                return []
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
