"""The registry service: input rules and policies in front of the registry store.

The server and the in-process SDK both call a ``RegistryService``; it checks names, aliases,
tags and sources, snapshots lineage when a version is created, routes moves of protected aliases
through approval requests, and verifies the audit trail. Every write takes a ``Change`` (who
and why) that the store records in the audit trail with the change itself.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shipyard._text import is_decimal
from shipyard.entities import (
    ApprovalRequest,
    AuditEvent,
    ModelVersion,
    ModelVersionStage,
    RegisteredModel,
    Webhook,
    WebhookDelivery,
)
from shipyard.errors import ApprovalRequired, InvalidParameter
from shipyard.registry._audit import AuditVerdict, verify_chain
from shipyard.registry._lineage import ReadArtifact, snapshot
from shipyard.registry._sources import check_source, download_uri, logged_model_ref
from shipyard.registry._webhooks import check_webhook_url
from shipyard.settings import Limits
from shipyard.store._protocol import Page, TrackingStore
from shipyard.store._registry import Change
from shipyard.store.sql._registry import SqlRegistryStore
from shipyard.tracking import _validation as v

__all__ = ["AliasMove", "RegistryService", "parse_stage", "parse_version"]

_ALIAS = re.compile(r"^[\w\-]+$")
_RESERVED_ALIAS = re.compile(r"^(latest|v\d+)$", re.IGNORECASE)
_ACTION = re.compile(r"^[a-z][a-z0-9_\-]*(\.[a-z0-9_\-]+)+$")
_OWN_ACTIONS = ("model.", "version.", "alias.", "approval.", "webhook.")
_MAX_NAME = 256
_MAX_ALIAS = 255
_MAX_TAG_VALUE = 100_000
_MAX_MODELS_RESULTS = 1000
_MAX_VERSIONS_RESULTS = 200_000
_MAX_VERSION = 2**31 - 1  # the column is a 32-bit integer


def parse_version(version: object) -> int:
    """A version number as the wire sends it (``"3"``); anything else is a clear error."""
    text = str(version).strip() if isinstance(version, (str, int)) else ""
    if not is_decimal(text) or not 1 <= int(text) <= _MAX_VERSION or isinstance(version, bool):
        raise InvalidParameter(f"Model version must be a positive integer, got {version!r}.")
    return int(text)


def parse_stage(text: object) -> ModelVersionStage:
    """A stage name, case-insensitive as in MLflow (``production`` is ``Production``)."""
    if isinstance(text, str):
        for stage in ModelVersionStage:
            if stage.value.lower() == text.strip().lower():
                return stage
    allowed = ", ".join(s.value for s in ModelVersionStage)
    raise InvalidParameter(f"Invalid Model Version stage: {text}. Value must be one of {allowed}.")


@dataclass(frozen=True, slots=True)
class AliasMove:
    """What ``move_alias`` did: moved it (``version``) or filed a request (``request``)."""

    version: ModelVersion | None = None
    request: ApprovalRequest | None = None


class RegistryService:
    """The registry's rules over a ``SqlRegistryStore`` and the tracking store it points into.

    ``artifact_roots`` are the locations this server owns (sources must lie inside one);
    ``read_artifact`` lets lineage capture a package's ``requirements.txt``.
    """

    def __init__(
        self,
        store: SqlRegistryStore,
        tracking: TrackingStore,
        *,
        artifact_roots: Sequence[str] = (),
        read_artifact: ReadArtifact | None = None,
        limits: Limits | None = None,
        allow_private_webhooks: bool = False,
    ) -> None:
        self.store = store
        self.tracking = tracking
        self.artifact_roots = tuple(artifact_roots)
        self.read_artifact = read_artifact
        self.limits = limits or Limits()
        self.allow_private_webhooks = allow_private_webhooks

    # -- input rules --------------------------------------------------------------------------
    @staticmethod
    def _name(name: object, what: str = "name") -> str:
        if not isinstance(name, str) or not name.strip():
            raise InvalidParameter(f"Registered model {what} must be a non-empty string.")
        if len(name) > _MAX_NAME:
            raise InvalidParameter(
                f"Registered model {what} is {len(name)} characters long; the limit is {_MAX_NAME}."
            )
        if "/" in name or ":" in name or "@" in name:
            raise InvalidParameter(
                f"Invalid registered model {what} '{name}': it may not contain '/', ':' or '@' "
                "(they separate the parts of models:/<name>/<version> and models:/<name>@<alias>)."
            )
        return name

    @staticmethod
    def _alias(alias: object) -> str:
        if not isinstance(alias, str) or not alias:
            raise InvalidParameter("An alias must be a non-empty string.")
        if len(alias) > _MAX_ALIAS:
            raise InvalidParameter(
                f"Alias is {len(alias)} characters long; the limit is {_MAX_ALIAS}."
            )
        if not _ALIAS.match(alias):
            raise InvalidParameter(
                f"Invalid alias name '{alias}'. Aliases may only contain alphanumerics, "
                "underscores (_) and dashes (-)."
            )
        if _RESERVED_ALIAS.match(alias):
            raise InvalidParameter(
                f"Invalid alias name '{alias}': 'latest' and 'v<number>' are reserved."
            )
        return alias

    def _tags(self, tags: dict[str, str] | None) -> dict[str, str]:
        out = {}
        for key, value in (tags or {}).items():
            out[self._tag_key(key)] = self._tag_value(key, value)
        return out

    def _tag_key(self, key: object) -> str:
        return v.check_key("tag", key, self.limits)

    @staticmethod
    def _tag_value(key: str, value: object) -> str:
        if not isinstance(value, str):
            raise InvalidParameter(f"Tag '{key}' needs a string value, got {value!r}.")
        if len(value) > _MAX_TAG_VALUE:
            raise InvalidParameter(
                f"Tag value for '{key}' is {len(value)} characters long; the limit is "
                f"{_MAX_TAG_VALUE}."
            )
        return value

    # -- registered models --------------------------------------------------------------------
    def create_registered_model(
        self,
        name: str,
        change: Change,
        tags: dict[str, str] | None = None,
        description: str | None = None,
    ) -> RegisteredModel:
        return self.store.create_registered_model(
            self._name(name), self._tags(tags), description, change
        )

    def get_registered_model(self, name: str) -> RegisteredModel:
        return self.store.get_registered_model(self._name(name))

    def rename_registered_model(self, name: str, new_name: str, change: Change) -> RegisteredModel:
        return self.store.rename_registered_model(
            self._name(name), self._name(new_name, "new_name"), change
        )

    def update_registered_model(
        self, name: str, description: str | None, change: Change
    ) -> RegisteredModel:
        return self.store.update_registered_model(self._name(name), description, change)

    def delete_registered_model(self, name: str, change: Change) -> None:
        self.store.delete_registered_model(self._name(name), change)

    def set_registered_model_tag(self, name: str, key: str, value: str, change: Change) -> None:
        key = self._tag_key(key)
        self.store.set_registered_model_tag(
            self._name(name), key, self._tag_value(key, value), change
        )

    def delete_registered_model_tag(self, name: str, key: str, change: Change) -> None:
        self.store.delete_registered_model_tag(self._name(name), self._tag_key(key), change)

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = 100,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> Page[RegisteredModel]:
        v.check_max_results(max_results, _MAX_MODELS_RESULTS)
        return self.store.search_registered_models(filter_string, max_results, order_by, page_token)

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
        name = self._name(name)
        if run_id:
            v.check_run_id(run_id)
        check_source(
            source,
            self.tracking,
            run_id=run_id,
            model_id=model_id,
            artifact_roots=self.artifact_roots,
        )
        model_id = model_id or logged_model_ref(source)
        if model_id and not run_id:  # a logged model knows the run that produced it
            run_id = self.tracking.get_logged_model(model_id).source_run_id
        location = download_uri(source, self.tracking)
        lineage = snapshot(
            self.tracking,
            run_id=run_id,
            model_id=model_id,
            artifact_uri=location,
            read=self.read_artifact,
        )
        return self.store.create_model_version(
            name,
            source,
            change,
            run_id=run_id or None,
            tags=self._tags(tags),
            run_link=run_link or None,
            description=description,
            model_id=model_id or None,
            lineage=lineage,
            storage_location=location,
        )

    def get_model_version(self, name: str, version: object) -> ModelVersion:
        return self.store.get_model_version(self._name(name), parse_version(version))

    def update_model_version(
        self, name: str, version: object, description: str | None, change: Change
    ) -> ModelVersion:
        return self.store.update_model_version(
            self._name(name), parse_version(version), description, change
        )

    def delete_model_version(self, name: str, version: object, change: Change) -> None:
        self.store.delete_model_version(self._name(name), parse_version(version), change)

    def set_model_version_tag(
        self, name: str, version: object, key: str, value: str, change: Change
    ) -> None:
        key = self._tag_key(key)
        self.store.set_model_version_tag(
            self._name(name), parse_version(version), key, self._tag_value(key, value), change
        )

    def delete_model_version_tag(
        self, name: str, version: object, key: str, change: Change
    ) -> None:
        self.store.delete_model_version_tag(
            self._name(name), parse_version(version), self._tag_key(key), change
        )

    def transition_model_version_stage(
        self,
        name: str,
        version: object,
        stage: str,
        archive_existing_versions: bool,
        change: Change,
    ) -> ModelVersion:
        return self.store.transition_stage(
            self._name(name),
            parse_version(version),
            parse_stage(stage),
            bool(archive_existing_versions),
            change,
        )

    def get_latest_versions(self, name: str, stages: Sequence[str] = ()) -> list[ModelVersion]:
        return self.store.get_latest_versions(self._name(name), [parse_stage(s) for s in stages])

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = 10_000,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> Page[ModelVersion]:
        v.check_max_results(max_results, _MAX_VERSIONS_RESULTS)
        return self.store.search_model_versions(filter_string, max_results, order_by, page_token)

    def get_model_version_download_uri(self, name: str, version: object) -> str:
        """Where the version's files are: resolved at registration, or now for older versions."""
        source, location = self.store.get_location(self._name(name), parse_version(version))
        return location or download_uri(source, self.tracking)

    def get_lineage(self, name: str, version: object) -> dict[str, Any]:
        """The version, its snapshot at registration, and where its files are now."""
        mv = self.get_model_version(name, version)
        captured = self.store.get_lineage(mv.name, int(mv.version))
        return {
            "model": mv.name,
            "version": mv.version,
            "source": mv.source,
            "download_uri": download_uri(mv.source, self.tracking),
            "run_id": mv.run_id,
            "model_id": mv.model_id,
            "stage": mv.current_stage,
            "aliases": mv.aliases,
            "registered_by": mv.user_id,
            "registered_at": mv.creation_time,
            **captured,
        }

    # -- aliases ------------------------------------------------------------------------------
    def set_registered_model_alias(
        self, name: str, alias: str, version: object, change: Change
    ) -> ModelVersion:
        """Move ``alias``; raises ``ApprovalRequired`` if it is protected."""
        return self.store.set_alias(
            self._name(name), self._alias(alias), parse_version(version), change
        )

    def move_alias(self, name: str, alias: str, version: object, change: Change) -> AliasMove:
        """Move ``alias``, or file an approval request when it is protected."""
        try:
            return AliasMove(version=self.set_registered_model_alias(name, alias, version, change))
        except ApprovalRequired:
            return AliasMove(request=self.request_approval(name, alias, version, change))

    def delete_registered_model_alias(self, name: str, alias: str, change: Change) -> None:
        self.store.delete_alias(self._name(name), self._alias(alias), change)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        return self.store.get_version_by_alias(self._name(name), self._alias(alias))

    def protect_alias(self, name: str, alias: str, change: Change, protect: bool = True) -> None:
        self.store.protect_alias(self._name(name), self._alias(alias), protect, change)

    def rollback_alias(self, name: str, alias: str, change: Change) -> ModelVersion:
        """Move ``alias`` back to the version it pointed at before (from the audit trail).

        A rollback goes back to a version that already held the alias, so it needs no approval
        even on a protected alias; it is recorded as ``alias.rollback``.
        """
        return self.store.rollback_alias(self._name(name), self._alias(alias), change)

    # -- approvals ----------------------------------------------------------------------------
    def request_approval(
        self, name: str, alias: str, version: object, change: Change
    ) -> ApprovalRequest:
        return self.store.request_approval(
            self._name(name), self._alias(alias), parse_version(version), change
        )

    def decide_approval(
        self, request_id: str, approve: bool, change: Change, comment: str | None = None
    ) -> ApprovalRequest:
        if not isinstance(request_id, str) or not request_id:
            raise InvalidParameter("An approval request id is required.")
        return self.store.decide_approval(request_id, approve, comment, change)

    def list_approvals(
        self, name: str | None = None, status: str | None = None
    ) -> list[ApprovalRequest]:
        return self.store.list_approvals(name, status.upper() if status else None)

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
        """Append an event from another part of Shipyard (``gate.decision``, ``monitor.alert``)."""
        if not isinstance(action, str) or not _ACTION.match(action):
            raise InvalidParameter(
                f"Invalid audit action {action!r}: use dotted lower-case words such as "
                "'gate.decision'."
            )
        if action.startswith(_OWN_ACTIONS):
            raise InvalidParameter(
                f"Audit action '{action}' is reserved for the registry's own changes."
            )
        if not isinstance(details, dict):
            raise InvalidParameter("Audit event details must be a JSON object.")
        return self.store.record_event(
            self._name(name),
            action,
            details,
            change,
            version=None if version is None else parse_version(version),
            alias=None if alias is None else self._alias(alias),
        )

    def audit_events(
        self, name: str | None = None, after_seq: int = 0, limit: int | None = None
    ) -> list[AuditEvent]:
        return self.store.list_events(name, after_seq=after_seq, limit=limit)

    def verify_audit(self) -> AuditVerdict:
        head = self.store.audit_head()
        return verify_chain(self.store.list_events(), head)

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
        check_webhook_url(url, allow_private=self.allow_private_webhooks)
        patterns = [e for e in events if isinstance(e, str) and e]
        if not patterns:
            raise InvalidParameter("A webhook needs at least one event pattern, such as 'alias.*'.")
        if model_name is not None:
            self._name(model_name, "model_name")
        return self.store.create_webhook(
            url, secret or secrets.token_hex(32), patterns, model_name, change
        )

    def list_webhooks(self) -> list[Webhook]:
        return self.store.list_webhooks()

    def delete_webhook(self, hook_id: str, change: Change) -> None:
        self.store.delete_webhook(hook_id, change)

    def list_deliveries(self, hook_id: str | None = None) -> list[WebhookDelivery]:
        return self.store.list_deliveries(hook_id)
