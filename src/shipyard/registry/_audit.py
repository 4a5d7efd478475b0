"""Checking the audit trail: recompute the hash chain and name the first event that is wrong.

An edited event no longer matches its own hash; a removed or reordered event breaks the link
(``prev_hash``) or the sequence numbers; removing the newest events leaves the chain shorter than
the head row says. The first problem found is reported with its sequence number.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from shipyard.entities import AuditEvent
from shipyard.store._audit_chain import GENESIS_HASH, encode_body, event_hash

__all__ = ["AuditVerdict", "verify_chain"]


@dataclass(frozen=True, slots=True)
class AuditVerdict:
    """``ok`` when the chain holds; otherwise ``seq`` and ``problem`` say where and what."""

    ok: bool
    events: int
    head_seq: int
    seq: int | None = None
    problem: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "events": self.events,
            "head_seq": self.head_seq,
            "seq": self.seq,
            "problem": self.problem,
        }


def _recomputed(e: AuditEvent, prev: str) -> str:
    body = encode_body(e.before, e.after, e.reason, dict(e.details))
    return event_hash(
        prev, e.seq, e.time_ms, e.actor, e.action, e.model_name, e.version, e.alias, body
    )


def verify_chain(events: Iterable[AuditEvent], head: tuple[int, str]) -> AuditVerdict:
    """Verify ``events`` (all of them, in storage order by ``seq``) against the head row."""
    head_seq, head_hash = head
    prev, expected_seq, count = GENESIS_HASH, 1, 0
    for e in events:
        count += 1
        if e.seq != expected_seq:
            what = "removed" if e.seq > expected_seq else "duplicated or reordered"
            return AuditVerdict(
                False,
                count,
                head_seq,
                expected_seq,
                f"event {expected_seq} is missing: the chain jumps to {e.seq} (events {what})",
            )
        if e.prev_hash != prev:
            return AuditVerdict(
                False,
                count,
                head_seq,
                e.seq,
                f"event {e.seq} does not link to event {e.seq - 1} (an event was removed, "
                "reordered or rewritten before it)",
            )
        if _recomputed(e, prev) != e.hash:
            return AuditVerdict(
                False,
                count,
                head_seq,
                e.seq,
                f"event {e.seq} ({e.action} by {e.actor}) was altered: its content no longer "
                "matches its hash",
            )
        prev, expected_seq = e.hash, expected_seq + 1
    if expected_seq - 1 != head_seq or (head_seq and prev != head_hash):
        return AuditVerdict(
            False,
            count,
            head_seq,
            expected_seq,
            f"the chain ends at event {expected_seq - 1} but the head records {head_seq} events: "
            "the newest events were removed or the head was rewritten",
        )
    return AuditVerdict(True, count, head_seq)
