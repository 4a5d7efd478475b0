"""``Client``'s model-registry methods: MLflow's names, plus governance (reasons, approvals,
protected aliases, rollback, lineage, the audit trail and webhooks).

Every write records ``settings.user`` as the actor and the ``reason`` given, if any.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from shipyard.client._backend import open_registry_backend
from shipyard.entities import (
    ApprovalRequest,
    AuditEvent,
    ModelVersion,
    RegisteredModel,
    Webhook,
    WebhookDelivery,
)
from shipyard.errors import AlreadyExists
from shipyard.settings import Settings
from shipyard.store._protocol import Page
from shipyard.store._registry import Change

if TYPE_CHECKING:
    from shipyard.client._backend import RegistryBackend
    from shipyard.registry import AliasMove, AuditVerdict

__all__ = ["RegistryMethods"]


class RegistryMethods:
    """Mixed into ``Client``; needs ``tracking_uri`` and ``settings``."""

    tracking_uri: str
    settings: Settings

    @property
    def registry(self) -> RegistryBackend:
        return open_registry_backend(self.tracking_uri, self.settings)

    def _change(self, reason: str | None = None) -> Change:
        return Change(self.settings.user, reason)

    # -- registered models --------------------------------------------------------------------
    def create_registered_model(
        self,
        name: str,
        tags: Mapping[str, Any] | None = None,
        description: str | None = None,
        reason: str | None = None,
    ) -> RegisteredModel:
        clean = {k: str(v) for k, v in (tags or {}).items()}
        return self.registry.create_registered_model(name, self._change(reason), clean, description)

    def get_registered_model(self, name: str) -> RegisteredModel:
        return self.registry.get_registered_model(name)

    def rename_registered_model(
        self, name: str, new_name: str, reason: str | None = None
    ) -> RegisteredModel:
        return self.registry.rename_registered_model(name, new_name, self._change(reason))

    def update_registered_model(
        self, name: str, description: str | None, reason: str | None = None
    ) -> RegisteredModel:
        return self.registry.update_registered_model(name, description, self._change(reason))

    def delete_registered_model(self, name: str, reason: str | None = None) -> None:
        self.registry.delete_registered_model(name, self._change(reason))

    def set_registered_model_tag(
        self, name: str, key: str, value: Any, reason: str | None = None
    ) -> None:
        self.registry.set_registered_model_tag(name, key, str(value), self._change(reason))

    def delete_registered_model_tag(self, name: str, key: str, reason: str | None = None) -> None:
        self.registry.delete_registered_model_tag(name, key, self._change(reason))

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = 100,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> Page[RegisteredModel]:
        return self.registry.search_registered_models(
            filter_string, max_results, order_by, page_token
        )

    # -- versions -----------------------------------------------------------------------------
    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: Mapping[str, Any] | None = None,
        run_link: str | None = None,
        description: str | None = None,
        model_id: str | None = None,
        reason: str | None = None,
    ) -> ModelVersion:
        return self.registry.create_model_version(
            name,
            source,
            self._change(reason),
            run_id=run_id,
            tags={k: str(v) for k, v in (tags or {}).items()},
            run_link=run_link,
            description=description,
            model_id=model_id,
        )

    def register_model(
        self,
        model_uri: str,
        name: str,
        tags: Mapping[str, Any] | None = None,
        reason: str | None = None,
    ) -> ModelVersion:
        """A new version of ``name`` (created if absent) from ``runs:/...`` or ``models:/m-...``."""
        with contextlib.suppress(AlreadyExists):
            self.create_registered_model(name, reason=reason)
        run_id = None
        if model_uri.startswith("runs:/"):
            run_id = model_uri.removeprefix("runs:/").lstrip("/").partition("/")[0]
        return self.create_model_version(name, model_uri, run_id=run_id, tags=tags, reason=reason)

    def get_model_version(self, name: str, version: str | int) -> ModelVersion:
        return self.registry.get_model_version(name, version)

    def update_model_version(
        self, name: str, version: str | int, description: str | None, reason: str | None = None
    ) -> ModelVersion:
        return self.registry.update_model_version(name, version, description, self._change(reason))

    def delete_model_version(
        self, name: str, version: str | int, reason: str | None = None
    ) -> None:
        self.registry.delete_model_version(name, version, self._change(reason))

    def set_model_version_tag(
        self, name: str, version: str | int, key: str, value: Any, reason: str | None = None
    ) -> None:
        self.registry.set_model_version_tag(name, version, key, str(value), self._change(reason))

    def delete_model_version_tag(
        self, name: str, version: str | int, key: str, reason: str | None = None
    ) -> None:
        self.registry.delete_model_version_tag(name, version, key, self._change(reason))

    def transition_model_version_stage(
        self,
        name: str,
        version: str | int,
        stage: str,
        archive_existing_versions: bool = False,
        reason: str | None = None,
    ) -> ModelVersion:
        return self.registry.transition_model_version_stage(
            name, version, stage, archive_existing_versions, self._change(reason)
        )

    def get_latest_versions(self, name: str, stages: Sequence[str] = ()) -> list[ModelVersion]:
        return self.registry.get_latest_versions(name, stages)

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = 10_000,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> Page[ModelVersion]:
        return self.registry.search_model_versions(filter_string, max_results, order_by, page_token)

    def get_model_version_download_uri(self, name: str, version: str | int) -> str:
        return self.registry.get_model_version_download_uri(name, version)

    def get_model_version_lineage(self, name: str, version: str | int) -> dict[str, Any]:
        """Source run, code, data, logged model and requirements of a version."""
        return self.registry.get_lineage(name, version)

    # -- aliases ------------------------------------------------------------------------------
    def set_registered_model_alias(
        self, name: str, alias: str, version: str | int, reason: str | None = None
    ) -> None:
        """Point ``alias`` at ``version``; raises ``ApprovalRequired`` if it is protected."""
        self.registry.set_registered_model_alias(name, alias, version, self._change(reason))

    def move_alias(
        self, name: str, alias: str, version: str | int, reason: str | None = None
    ) -> AliasMove:
        """Move ``alias``, or file an approval request when it is protected."""
        return self.registry.move_alias(name, alias, version, self._change(reason))

    def delete_registered_model_alias(
        self, name: str, alias: str, reason: str | None = None
    ) -> None:
        self.registry.delete_registered_model_alias(name, alias, self._change(reason))

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        return self.registry.get_model_version_by_alias(name, alias)

    def protect_alias(
        self, name: str, alias: str, protect: bool = True, reason: str | None = None
    ) -> None:
        """Require an approved request (by a second person) to move ``alias``."""
        self.registry.protect_alias(name, alias, self._change(reason), protect)

    def rollback_alias(self, name: str, alias: str, reason: str | None = None) -> ModelVersion:
        """Move ``alias`` back to the version it pointed at before; returns that version."""
        return self.registry.rollback_alias(name, alias, self._change(reason))

    # -- approvals ----------------------------------------------------------------------------
    def request_approval(
        self, name: str, alias: str, version: str | int, reason: str | None = None
    ) -> ApprovalRequest:
        return self.registry.request_approval(name, alias, version, self._change(reason))

    def approve(self, request_id: str, comment: str | None = None) -> ApprovalRequest:
        """Approve a request (not your own): the alias moves at once."""
        return self.registry.decide_approval(request_id, True, self._change(comment), comment)

    def reject(self, request_id: str, comment: str | None = None) -> ApprovalRequest:
        return self.registry.decide_approval(request_id, False, self._change(comment), comment)

    def list_approvals(
        self, name: str | None = None, status: str | None = None
    ) -> list[ApprovalRequest]:
        return self.registry.list_approvals(name, status)

    # -- audit trail --------------------------------------------------------------------------
    def record_registry_event(
        self,
        name: str,
        action: str,
        details: Mapping[str, Any],
        reason: str | None = None,
        version: str | int | None = None,
        alias: str | None = None,
    ) -> AuditEvent:
        """Append an event such as ``gate.decision`` or ``monitor.action`` to the trail."""
        return self.registry.record_event(
            name, action, dict(details), self._change(reason), version=version, alias=alias
        )

    def audit_events(
        self, name: str | None = None, after_seq: int = 0, limit: int | None = None
    ) -> list[AuditEvent]:
        return self.registry.audit_events(name, after_seq, limit)

    def verify_audit(self) -> AuditVerdict:
        return self.registry.verify_audit()

    # -- webhooks -----------------------------------------------------------------------------
    def create_webhook(
        self,
        url: str,
        events: Sequence[str] = ("*",),
        model_name: str | None = None,
        secret: str | None = None,
    ) -> Webhook:
        """Deliver matching registry events to ``url``; the returned webhook holds its secret."""
        return self.registry.create_webhook(
            url, self._change(), events=events, model_name=model_name, secret=secret
        )

    def list_webhooks(self) -> list[Webhook]:
        return self.registry.list_webhooks()

    def delete_webhook(self, hook_id: str) -> None:
        self.registry.delete_webhook(hook_id, self._change())

    def list_webhook_deliveries(self, hook_id: str | None = None) -> list[WebhookDelivery]:
        return self.registry.list_deliveries(hook_id)
