"""RestRegistry: the registry service's methods over HTTP (MLflow's routes plus Shipyard's own).

Each write sends the actor and reason as ``X-Shipyard-User`` / ``X-Shipyard-Reason`` headers
(percent-encoded). Writes are sent once: a retried write after a dropped connection could be
applied twice, and every registry write is an audit event. Reads retry on dropped connections.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from shipyard.entities import (
    ApprovalRequest,
    AuditEvent,
    ModelVersion,
    RegisteredModel,
    Webhook,
    WebhookDelivery,
)
from shipyard.errors import (
    ApprovalNotFound,
    ApprovalRequired,
    ModelVersionNotFound,
    NotFound,
    PermissionDenied,
    RegisteredModelNotFound,
    ShipyardError,
    error_for_code,
)
from shipyard.registry import AliasMove, AuditVerdict
from shipyard.store._protocol import Page
from shipyard.store._registry import Change
from shipyard.wire_registry import (
    approval_from_json,
    audit_event_from_json,
    delivery_from_json,
    model_version_from_json,
    registered_model_from_json,
    webhook_from_json,
)

__all__ = ["RestRegistry"]

Json = dict[str, Any]
_MLFLOW = "/api/2.0/mlflow/"
_OWN = "/api/2.0/shipyard/registry/"
_READ_ATTEMPTS = 3


def _raise_for(response: httpx.Response) -> None:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error_code"), str):
        error = error_for_code(body["error_code"], str(body.get("message", "")))
        if isinstance(error, PermissionDenied) and "is protected" in str(error):
            raise ApprovalRequired(str(error))
        raise error
    raise ShipyardError(
        f"HTTP {response.status_code} from {response.request.url}: {response.text[:200]}"
    )


@contextmanager
def _not_found(version: bool = False) -> Iterator[None]:
    try:
        yield
    except NotFound as exc:
        if type(exc) is not NotFound:
            raise
        message = str(exc)
        if version and "Version" in message:
            raise ModelVersionNotFound(message) from None
        raise RegisteredModelNotFound(message) from None


class RestRegistry:
    """Implements ``RegistryService``'s methods against ``base_url`` over ``http``."""

    def __init__(self, base_url: str, http: httpx.Client) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http

    # -- transport ----------------------------------------------------------------------------
    def _url(self, prefix: str, endpoint: str) -> str:
        return f"{self.base_url}{prefix}{endpoint}"

    def _write(
        self,
        method: str,
        endpoint: str,
        body: Json,
        change: Change,
        prefix: str = _MLFLOW,
    ) -> Json:
        headers = {"Content-Type": "application/json", "X-Shipyard-User": quote(change.actor)}
        if change.reason:
            headers["X-Shipyard-Reason"] = quote(change.reason)
        try:
            response = self.http.request(
                method, self._url(prefix, endpoint), content=orjson.dumps(body), headers=headers
            )
        except httpx.TransportError as exc:
            raise ShipyardError(
                f"Could not reach the tracking server at {self.base_url}: {exc}"
            ) from exc
        return self._result(response)

    def _read(self, endpoint: str, params: Mapping[str, Any], prefix: str = _MLFLOW) -> Json:
        clean = {k: v for k, v in params.items() if v is not None}
        for attempt in range(_READ_ATTEMPTS):
            try:
                response = self.http.get(self._url(prefix, endpoint), params=clean)
            except httpx.TransportError as exc:
                if attempt == _READ_ATTEMPTS - 1:
                    raise ShipyardError(
                        f"Could not reach the tracking server at {self.base_url}: {exc}"
                    ) from exc
                continue
            return self._result(response)
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _result(response: httpx.Response) -> Json:
        if response.status_code != 200:
            _raise_for(response)
        if not response.content:
            return {}
        data = orjson.loads(response.content)
        return data if isinstance(data, dict) else {}

    # -- registered models --------------------------------------------------------------------
    def create_registered_model(
        self,
        name: str,
        change: Change,
        tags: dict[str, str] | None = None,
        description: str | None = None,
    ) -> RegisteredModel:
        body: Json = {
            "name": name,
            "tags": [{"key": k, "value": v} for k, v in (tags or {}).items()],
        }
        if description is not None:
            body["description"] = description
        out = self._write("POST", "registered-models/create", body, change)
        return registered_model_from_json(out["registered_model"])

    def get_registered_model(self, name: str) -> RegisteredModel:
        with _not_found():
            out = self._read("registered-models/get", {"name": name})
        return registered_model_from_json(out["registered_model"])

    def rename_registered_model(self, name: str, new_name: str, change: Change) -> RegisteredModel:
        with _not_found():
            out = self._write(
                "POST", "registered-models/rename", {"name": name, "new_name": new_name}, change
            )
        return registered_model_from_json(out["registered_model"])

    def update_registered_model(
        self, name: str, description: str | None, change: Change
    ) -> RegisteredModel:
        with _not_found():
            out = self._write(
                "PATCH",
                "registered-models/update",
                {"name": name, "description": description},
                change,
            )
        return registered_model_from_json(out["registered_model"])

    def delete_registered_model(self, name: str, change: Change) -> None:
        with _not_found():
            self._write("DELETE", "registered-models/delete", {"name": name}, change)

    def set_registered_model_tag(self, name: str, key: str, value: str, change: Change) -> None:
        with _not_found():
            self._write(
                "POST",
                "registered-models/set-tag",
                {"name": name, "key": key, "value": value},
                change,
            )

    def delete_registered_model_tag(self, name: str, key: str, change: Change) -> None:
        with _not_found():
            self._write(
                "DELETE", "registered-models/delete-tag", {"name": name, "key": key}, change
            )

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = 100,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> Page[RegisteredModel]:
        out = self._read(
            "registered-models/search",
            {
                "filter": filter_string,
                "max_results": max_results,
                "order_by": list(order_by) or None,
                "page_token": page_token,
            },
        )
        items = [registered_model_from_json(m) for m in out.get("registered_models", [])]
        return Page(items, out.get("next_page_token"))

    # -- versions -----------------------------------------------------------------------------
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
    ) -> ModelVersion:
        body: Json = {
            "name": name,
            "source": source,
            "run_id": run_id,
            "tags": [{"key": k, "value": v} for k, v in (tags or {}).items()],
            "run_link": run_link,
            "description": description,
            "model_id": model_id,
        }
        with _not_found():
            out = self._write(
                "POST",
                "model-versions/create",
                {k: v for k, v in body.items() if v is not None},
                change,
            )
        return model_version_from_json(out["model_version"])

    def get_model_version(self, name: str, version: object) -> ModelVersion:
        with _not_found(version=True):
            out = self._read("model-versions/get", {"name": name, "version": str(version)})
        return model_version_from_json(out["model_version"])

    def update_model_version(
        self, name: str, version: object, description: str | None, change: Change
    ) -> ModelVersion:
        with _not_found(version=True):
            out = self._write(
                "PATCH",
                "model-versions/update",
                {"name": name, "version": str(version), "description": description},
                change,
            )
        return model_version_from_json(out["model_version"])

    def delete_model_version(self, name: str, version: object, change: Change) -> None:
        with _not_found(version=True):
            self._write(
                "DELETE", "model-versions/delete", {"name": name, "version": str(version)}, change
            )

    def set_model_version_tag(
        self, name: str, version: object, key: str, value: str, change: Change
    ) -> None:
        with _not_found(version=True):
            self._write(
                "POST",
                "model-versions/set-tag",
                {"name": name, "version": str(version), "key": key, "value": value},
                change,
            )

    def delete_model_version_tag(
        self, name: str, version: object, key: str, change: Change
    ) -> None:
        with _not_found(version=True):
            self._write(
                "DELETE",
                "model-versions/delete-tag",
                {"name": name, "version": str(version), "key": key},
                change,
            )

    def transition_model_version_stage(
        self,
        name: str,
        version: object,
        stage: str,
        archive_existing_versions: bool,
        change: Change,
    ) -> ModelVersion:
        with _not_found(version=True):
            out = self._write(
                "POST",
                "model-versions/transition-stage",
                {
                    "name": name,
                    "version": str(version),
                    "stage": stage,
                    "archive_existing_versions": archive_existing_versions,
                },
                change,
            )
        return model_version_from_json(out["model_version"])

    def get_latest_versions(self, name: str, stages: Sequence[str] = ()) -> list[ModelVersion]:
        with _not_found():
            out = self._read(
                "registered-models/get-latest-versions",
                {"name": name, "stages": list(stages) or None},
            )
        return [model_version_from_json(v) for v in out.get("model_versions", [])]

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = 10_000,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> Page[ModelVersion]:
        out = self._read(
            "model-versions/search",
            {
                "filter": filter_string,
                "max_results": max_results,
                "order_by": list(order_by) or None,
                "page_token": page_token,
            },
        )
        items = [model_version_from_json(v) for v in out.get("model_versions", [])]
        return Page(items, out.get("next_page_token"))

    def get_model_version_download_uri(self, name: str, version: object) -> str:
        with _not_found(version=True):
            out = self._read(
                "model-versions/get-download-uri", {"name": name, "version": str(version)}
            )
        return str(out["artifact_uri"])

    def get_lineage(self, name: str, version: object) -> dict[str, Any]:
        with _not_found(version=True):
            out = self._read("lineage", {"name": name, "version": str(version)}, _OWN)
        return dict(out["lineage"])

    # -- aliases ------------------------------------------------------------------------------
    def set_registered_model_alias(
        self, name: str, alias: str, version: object, change: Change
    ) -> None:
        with _not_found(version=True):
            self._write(
                "POST",
                "registered-models/alias",
                {"name": name, "alias": alias, "version": str(version)},
                change,
            )

    def move_alias(self, name: str, alias: str, version: object, change: Change) -> AliasMove:
        with _not_found(version=True):
            out = self._write(
                "POST",
                "aliases/move",
                {"name": name, "alias": alias, "version": str(version)},
                change,
                _OWN,
            )
        if "approval_request" in out:
            return AliasMove(request=approval_from_json(out["approval_request"]))
        return AliasMove(version=model_version_from_json(out["model_version"]))

    def delete_registered_model_alias(self, name: str, alias: str, change: Change) -> None:
        with _not_found():
            self._write("DELETE", "registered-models/alias", {"name": name, "alias": alias}, change)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        with _not_found():
            out = self._read("registered-models/alias", {"name": name, "alias": alias})
        return model_version_from_json(out["model_version"])

    def protect_alias(self, name: str, alias: str, change: Change, protect: bool = True) -> None:
        with _not_found():
            self._write(
                "POST",
                "aliases/protect",
                {"name": name, "alias": alias, "protected": protect},
                change,
                _OWN,
            )

    def rollback_alias(self, name: str, alias: str, change: Change) -> ModelVersion:
        with _not_found():
            out = self._write(
                "POST", "aliases/rollback", {"name": name, "alias": alias}, change, _OWN
            )
        return model_version_from_json(out["model_version"])

    # -- approvals ----------------------------------------------------------------------------
    def request_approval(
        self, name: str, alias: str, version: object, change: Change
    ) -> ApprovalRequest:
        with _not_found(version=True):
            out = self._write(
                "POST",
                "approvals/request",
                {"name": name, "alias": alias, "version": str(version)},
                change,
                _OWN,
            )
        return approval_from_json(out["approval_request"])

    def decide_approval(
        self, request_id: str, approve: bool, change: Change, comment: str | None = None
    ) -> ApprovalRequest:
        try:
            out = self._write(
                "POST",
                "approvals/decide",
                {"id": request_id, "approve": approve, "comment": comment},
                change,
                _OWN,
            )
        except NotFound as exc:
            raise ApprovalNotFound(str(exc)) from None
        return approval_from_json(out["approval_request"])

    def list_approvals(
        self, name: str | None = None, status: str | None = None
    ) -> list[ApprovalRequest]:
        out = self._read("approvals", {"name": name, "status": status}, _OWN)
        return [approval_from_json(a) for a in out.get("approval_requests", [])]

    # -- audit trail --------------------------------------------------------------------------
    def record_event(
        self,
        name: str,
        action: str,
        details: dict[str, Any],
        change: Change,
        *,
        version: object | None = None,
        alias: str | None = None,
    ) -> AuditEvent:
        body: Json = {"name": name, "action": action, "details": details}
        if version is not None:
            body["version"] = str(version)
        if alias is not None:
            body["alias"] = alias
        with _not_found(version=True):
            out = self._write("POST", "audit/events", body, change, _OWN)
        return audit_event_from_json(out["event"])

    def audit_events(
        self, name: str | None = None, after_seq: int = 0, limit: int | None = None
    ) -> list[AuditEvent]:
        out = self._read(
            "audit/events", {"name": name, "after_seq": after_seq, "limit": limit}, _OWN
        )
        return [audit_event_from_json(e) for e in out.get("events", [])]

    def verify_audit(self) -> AuditVerdict:
        v = self._read("audit/verify", {}, _OWN)["verdict"]
        return AuditVerdict(
            ok=bool(v["ok"]),
            events=int(v["events"]),
            head_seq=int(v["head_seq"]),
            seq=v.get("seq"),
            problem=v.get("problem"),
        )

    # -- webhooks -----------------------------------------------------------------------------
    def create_webhook(
        self,
        url: str,
        change: Change,
        *,
        events: Sequence[str] = ("*",),
        model_name: str | None = None,
        secret: str | None = None,
    ) -> Webhook:
        body = {"url": url, "events": list(events), "model_name": model_name, "secret": secret}
        out = self._write("POST", "webhooks", body, change, _OWN)
        return webhook_from_json(out["webhook"])

    def list_webhooks(self) -> list[Webhook]:
        return [webhook_from_json(w) for w in self._read("webhooks", {}, _OWN)["webhooks"]]

    def delete_webhook(self, hook_id: str, change: Change) -> None:
        self._write("POST", "webhooks/delete", {"id": hook_id}, change, _OWN)

    def list_deliveries(self, hook_id: str | None = None) -> list[WebhookDelivery]:
        out = self._read("webhooks/deliveries", {"webhook_id": hook_id}, _OWN)
        return [delivery_from_json(d) for d in out.get("deliveries", [])]
