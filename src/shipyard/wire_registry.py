"""The registry's JSON: MLflow's ``registered_model`` and ``model_version`` objects, and
Shipyard's own audit events, approval requests and webhooks.

Fields that are unset are left out, as protobuf's JSON writer does; versions travel as strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shipyard.entities import (
    ApprovalRequest,
    AuditEvent,
    ModelVersion,
    RegisteredModel,
    Webhook,
    WebhookDelivery,
)
from shipyard.wire import tags_from_json, tags_to_json

__all__ = [
    "approval_from_json",
    "approval_to_json",
    "audit_event_from_json",
    "audit_event_to_json",
    "delivery_from_json",
    "delivery_to_json",
    "model_version_from_json",
    "model_version_to_json",
    "registered_model_from_json",
    "registered_model_to_json",
    "webhook_from_json",
    "webhook_to_json",
]

Json = dict[str, Any]


def _without_none(out: Json) -> Json:
    return {k: v for k, v in out.items() if v is not None}


def model_version_to_json(mv: ModelVersion) -> Json:
    return _without_none(
        {
            "name": mv.name,
            "version": mv.version,
            "creation_timestamp": mv.creation_time,
            "last_updated_timestamp": mv.last_updated_time,
            "user_id": mv.user_id,
            "current_stage": mv.current_stage,
            "description": mv.description,
            "source": mv.source,
            "run_id": mv.run_id,
            "status": mv.status,
            "status_message": mv.status_message,
            "tags": tags_to_json(mv.tags),
            "run_link": mv.run_link,
            "aliases": list(mv.aliases),
            "model_id": mv.model_id,
        }
    )


def model_version_from_json(obj: Mapping[str, Any]) -> ModelVersion:
    return ModelVersion(
        name=str(obj.get("name", "")),
        version=str(obj.get("version", "")),
        creation_time=int(obj.get("creation_timestamp") or 0),
        last_updated_time=int(obj.get("last_updated_timestamp") or 0),
        source=str(obj.get("source", "")),
        current_stage=str(obj.get("current_stage") or "None"),
        description=obj.get("description") or None,
        user_id=obj.get("user_id") or None,
        run_id=obj.get("run_id") or None,
        run_link=obj.get("run_link") or None,
        model_id=obj.get("model_id") or None,
        status=str(obj.get("status") or "READY"),
        status_message=obj.get("status_message") or None,
        tags=tags_from_json(obj.get("tags")),
        aliases=[str(a) for a in obj.get("aliases") or ()],
    )


def registered_model_to_json(rm: RegisteredModel) -> Json:
    out = _without_none(
        {
            "name": rm.name,
            "creation_timestamp": rm.creation_time,
            "last_updated_timestamp": rm.last_updated_time,
            "user_id": rm.user_id,
            "description": rm.description,
            "latest_versions": [model_version_to_json(v) for v in rm.latest_versions],
            "tags": tags_to_json(rm.tags),
            "aliases": [{"alias": a, "version": v} for a, v in rm.aliases.items()],
        }
    )
    if rm.protected_aliases:  # Shipyard's own field; MLflow's client ignores unknown fields
        out["protected_aliases"] = sorted(rm.protected_aliases)
    return out


def registered_model_from_json(obj: Mapping[str, Any]) -> RegisteredModel:
    return RegisteredModel(
        name=str(obj.get("name", "")),
        creation_time=int(obj.get("creation_timestamp") or 0),
        last_updated_time=int(obj.get("last_updated_timestamp") or 0),
        description=obj.get("description") or None,
        user_id=obj.get("user_id") or None,
        tags=tags_from_json(obj.get("tags")),
        aliases={str(a["alias"]): str(a["version"]) for a in obj.get("aliases") or ()},
        latest_versions=[model_version_from_json(v) for v in obj.get("latest_versions") or ()],
        protected_aliases={str(a): 1 for a in obj.get("protected_aliases") or ()},
    )


def audit_event_to_json(e: AuditEvent) -> Json:
    return {
        "seq": e.seq,
        "time_ms": e.time_ms,
        "actor": e.actor,
        "action": e.action,
        "model_name": e.model_name,
        "version": e.version,
        "alias": e.alias,
        "before": e.before,
        "after": e.after,
        "reason": e.reason,
        "details": e.details,
        "prev_hash": e.prev_hash,
        "hash": e.hash,
    }


def audit_event_from_json(obj: Mapping[str, Any]) -> AuditEvent:
    return AuditEvent(
        seq=int(obj["seq"]),
        time_ms=int(obj["time_ms"]),
        actor=str(obj["actor"]),
        action=str(obj["action"]),
        model_name=obj.get("model_name"),
        version=obj.get("version"),
        alias=obj.get("alias"),
        before=obj.get("before"),
        after=obj.get("after"),
        reason=obj.get("reason"),
        details=dict(obj.get("details") or {}),
        prev_hash=str(obj["prev_hash"]),
        hash=str(obj["hash"]),
    )


def approval_to_json(a: ApprovalRequest) -> Json:
    return {
        "id": a.id,
        "name": a.name,
        "alias": a.alias,
        "version": a.version,
        "requested_by": a.requested_by,
        "created_time": a.created_time,
        "status": a.status,
        "reason": a.reason,
        "decided_by": a.decided_by,
        "decided_time": a.decided_time,
        "comment": a.comment,
    }


def approval_from_json(obj: Mapping[str, Any]) -> ApprovalRequest:
    return ApprovalRequest(
        id=str(obj["id"]),
        name=str(obj["name"]),
        alias=str(obj["alias"]),
        version=str(obj["version"]),
        requested_by=str(obj["requested_by"]),
        created_time=int(obj["created_time"]),
        status=str(obj["status"]),
        reason=obj.get("reason"),
        decided_by=obj.get("decided_by"),
        decided_time=obj.get("decided_time"),
        comment=obj.get("comment"),
    )


def webhook_to_json(w: Webhook, *, with_secret: bool = False) -> Json:
    out: Json = {
        "id": w.id,
        "url": w.url,
        "events": list(w.events),
        "model_name": w.model_name,
        "active": w.active,
        "created_time": w.created_time,
    }
    if with_secret:
        out["secret"] = w.secret
    return out


def webhook_from_json(obj: Mapping[str, Any]) -> Webhook:
    return Webhook(
        id=str(obj["id"]),
        url=str(obj["url"]),
        events=[str(e) for e in obj.get("events") or ()],
        created_time=int(obj.get("created_time") or 0),
        model_name=obj.get("model_name"),
        active=bool(obj.get("active", True)),
        secret=str(obj.get("secret") or ""),
    )


def delivery_to_json(d: WebhookDelivery) -> Json:
    return {
        "id": d.id,
        "webhook_id": d.webhook_id,
        "event_seq": d.event_seq,
        "status": d.status,
        "attempts": d.attempts,
        "last_status_code": d.last_status_code,
        "last_error": d.last_error,
        "delivered_time": d.delivered_time,
    }


def delivery_from_json(obj: Mapping[str, Any]) -> WebhookDelivery:
    return WebhookDelivery(
        id=int(obj["id"]),
        webhook_id=str(obj["webhook_id"]),
        event_seq=int(obj["event_seq"]),
        status=str(obj["status"]),
        attempts=int(obj["attempts"]),
        last_status_code=obj.get("last_status_code"),
        last_error=obj.get("last_error"),
        delivered_time=obj.get("delivered_time"),
    )
