"""Shipyard's own registry routes, under ``/api/2.0/shipyard/registry``: alias moves that may
need approval, protection, rollback, approvals, lineage, the audit trail and webhooks.

MLflow has no equivalent; Shipyard's SDK and CLI call these. Actor and reason come from the
same headers as the MLflow routes (see ``_registry.change_of``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict

from shipyard.server._http import MAX_BODY_BYTES, FastJSONRoute, empty, json_response, required
from shipyard.server._registry import change_of, registry_of, written
from shipyard.wire_registry import (
    approval_to_json,
    audit_event_to_json,
    delivery_to_json,
    model_version_to_json,
    webhook_to_json,
)

__all__ = ["PREFIX", "router"]

PREFIX = "/api/2.0/shipyard/registry"

router = APIRouter(
    prefix=PREFIX, tags=["governance"], route_class=FastJSONRoute, max_body_size=MAX_BODY_BYTES
)


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


class AliasRef(_Body):
    name: str | None = None
    alias: str | None = None


class AliasMoveBody(AliasRef):
    version: str | None = None


class ProtectBody(AliasRef):
    protected: bool = True


class DecideBody(_Body):
    id: str | None = None
    approve: bool
    comment: str | None = None


class EventBody(_Body):
    name: str | None = None
    action: str | None = None
    details: dict[str, Any] = {}
    version: str | None = None
    alias: str | None = None


class WebhookBody(_Body):
    url: str | None = None
    events: list[str] = ["*"]
    model_name: str | None = None
    secret: str | None = None


class WebhookRef(_Body):
    id: str | None = None


@router.post("/aliases/move")
def move_alias(request: Request, body: AliasMoveBody) -> Response:
    """Move an alias, or file an approval request when it is protected."""
    moved = registry_of(request).move_alias(
        required(body.name, "name"),
        required(body.alias, "alias"),
        required(body.version, "version"),
        change_of(request),
    )
    written(request)
    if moved.request is not None:
        return json_response({"approval_request": approval_to_json(moved.request)})
    assert moved.version is not None
    return json_response({"model_version": model_version_to_json(moved.version)})


@router.post("/aliases/protect")
def protect_alias(request: Request, body: ProtectBody) -> Response:
    registry_of(request).protect_alias(
        required(body.name, "name"),
        required(body.alias, "alias"),
        change_of(request),
        protect=body.protected,
    )
    written(request)
    return empty()


@router.post("/aliases/rollback")
def rollback_alias(request: Request, body: AliasRef) -> Response:
    mv = registry_of(request).rollback_alias(
        required(body.name, "name"), required(body.alias, "alias"), change_of(request)
    )
    written(request)
    return json_response({"model_version": model_version_to_json(mv)})


@router.post("/approvals/request")
def request_approval(request: Request, body: AliasMoveBody) -> Response:
    req = registry_of(request).request_approval(
        required(body.name, "name"),
        required(body.alias, "alias"),
        required(body.version, "version"),
        change_of(request),
    )
    written(request)
    return json_response({"approval_request": approval_to_json(req)})


@router.post("/approvals/decide")
def decide_approval(request: Request, body: DecideBody) -> Response:
    req = registry_of(request).decide_approval(
        required(body.id, "id"), body.approve, change_of(request), body.comment
    )
    written(request)
    return json_response({"approval_request": approval_to_json(req)})


@router.get("/approvals")
def list_approvals(
    request: Request,
    name: Annotated[str | None, Query()] = None,
    status: Annotated[str | None, Query()] = None,
) -> Response:
    found = registry_of(request).list_approvals(name or None, status or None)
    return json_response({"approval_requests": [approval_to_json(a) for a in found]})


@router.get("/lineage")
def lineage(
    request: Request,
    name: Annotated[str, Query()] = "",
    version: Annotated[str, Query()] = "",
) -> Response:
    doc = registry_of(request).get_lineage(required(name, "name"), required(version, "version"))
    return json_response({"lineage": doc})


@router.get("/audit/events")
def audit_events(
    request: Request,
    name: Annotated[str | None, Query()] = None,
    after_seq: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
    limit: Annotated[int | None, Query(ge=1, le=100_000)] = None,
) -> Response:
    events = registry_of(request).audit_events(name or None, after_seq, limit)
    return json_response({"events": [audit_event_to_json(e) for e in events]})


@router.post("/audit/events")
def record_event(request: Request, body: EventBody) -> Response:
    event = registry_of(request).record_event(
        required(body.name, "name"),
        required(body.action, "action"),
        body.details,
        change_of(request),
        version=body.version or None,
        alias=body.alias or None,
    )
    written(request)
    return json_response({"event": audit_event_to_json(event)})


@router.get("/audit/verify")
def verify_audit(request: Request) -> Response:
    return json_response({"verdict": registry_of(request).verify_audit().to_dict()})


@router.post("/webhooks")
def create_webhook(request: Request, body: WebhookBody) -> Response:
    hook = registry_of(request).create_webhook(
        required(body.url, "url"),
        change_of(request),
        events=body.events,
        model_name=body.model_name or None,
        secret=body.secret or None,
    )
    return json_response({"webhook": webhook_to_json(hook, with_secret=True)})


@router.get("/webhooks")
def list_webhooks(request: Request) -> Response:
    hooks = registry_of(request).list_webhooks()
    return json_response({"webhooks": [webhook_to_json(h) for h in hooks]})


@router.post("/webhooks/delete")
def delete_webhook(request: Request, body: WebhookRef) -> Response:
    registry_of(request).delete_webhook(required(body.id, "id"), change_of(request))
    return empty()


@router.get("/webhooks/deliveries")
def list_deliveries(
    request: Request, webhook_id: Annotated[str | None, Query()] = None
) -> Response:
    found = registry_of(request).list_deliveries(webhook_id or None)
    return json_response({"deliveries": [delivery_to_json(d) for d in found]})
