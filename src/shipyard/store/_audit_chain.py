"""The audit trail's hash chain: how one event's hash is computed from its content.

Each event's hash is SHA-256 over the previous event's hash and a canonical JSON encoding of the
event's stored fields. Changing any field of any event, removing one or swapping two breaks the
chain from that point on; the head row (last sequence number and hash) catches removal of the
newest events. The store writes events with ``event_hash``; ``shipyard.registry`` verifies them.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

__all__ = ["GENESIS_HASH", "encode_body", "event_hash"]

#: The ``prev_hash`` of the first event.
GENESIS_HASH = "0" * 64


def encode_body(before: Any, after: Any, reason: str | None, details: dict[str, Any]) -> str:
    """The stored ``body`` column: what changed, why, and any evidence, as canonical JSON."""
    body = {"after": after, "before": before, "details": details, "reason": reason}
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS).decode()


def event_hash(
    prev_hash: str,
    seq: int,
    time_ms: int,
    actor: str,
    action: str,
    model_name: str | None,
    version: str | None,
    alias: str | None,
    body: str,
) -> str:
    fields = [seq, time_ms, actor, action, model_name, version, alias, body]
    payload = prev_hash.encode() + b"\n" + orjson.dumps(fields)
    return hashlib.sha256(payload).hexdigest()
