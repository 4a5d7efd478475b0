"""What an alert can do: post to a webhook, roll an alias back, run a command.

The registry is reached through a small protocol with ``shipyard.Client``'s method names, so a
``Client`` is one, and tests pass a recording fake. Each action returns a short JSON-ready result
that goes into the incident and the audit trail.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import httpx

from shipyard.monitoring._policy import CommandAction, RollbackAction, WebhookAction

__all__ = ["ActionContext", "Registry", "run_action"]

ALERT_EVENT = "monitor.alert"
ACTION_EVENT = "monitor.action"


class _Version(Protocol):
    @property
    def version(self) -> str: ...


@runtime_checkable
class Registry(Protocol):
    def get_model_version_by_alias(self, name: str, alias: str) -> _Version: ...

    def rollback_alias(self, name: str, alias: str, reason: str | None = None) -> _Version: ...

    def record_registry_event(
        self,
        name: str,
        action: str,
        details: dict[str, Any],
        reason: str | None = None,
        version: str | None = None,
    ) -> Any: ...


class ActionContext:
    """What actions need besides their own settings."""

    def __init__(
        self,
        registry: Registry | None,
        http: httpx.Client | None = None,
        environ: Mapping[str, str] | None = None,
        default_alias: str | None = None,
    ) -> None:
        self.registry = registry
        self.http = http
        self.environ = os.environ if environ is None else environ
        self.default_alias = default_alias


def run_action(
    action: WebhookAction | RollbackAction | CommandAction,
    incident: Mapping[str, Any],
    context: ActionContext,
) -> dict[str, Any]:
    """Run one action for ``incident``; raises on failure (the caller records and retries)."""
    if isinstance(action, WebhookAction):
        return _webhook(action, incident, context)
    if isinstance(action, RollbackAction):
        return _rollback(action, incident, context)
    return _command(action, incident, context)


def _webhook(
    action: WebhookAction, incident: Mapping[str, Any], context: ActionContext
) -> dict[str, Any]:
    body = json.dumps({"event": "monitor.alert", "incident": incident}, default=str).encode()
    headers = {"Content-Type": "application/json"}
    if action.secret_env:
        secret = context.environ.get(action.secret_env)
        if not secret:
            raise RuntimeError(f"environment variable {action.secret_env} is not set")
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        headers["X-Shipyard-Signature"] = f"sha256={digest}"
    client = context.http or httpx.Client()
    try:
        response = client.post(action.url, content=body, headers=headers, timeout=action.timeout)
    finally:
        if context.http is None:
            client.close()
    if response.status_code >= 400:
        raise RuntimeError(f"webhook answered HTTP {response.status_code}")
    return {"status_code": response.status_code}


def _rollback(
    action: RollbackAction, incident: Mapping[str, Any], context: ActionContext
) -> dict[str, Any]:
    registry = context.registry
    if registry is None:
        raise RuntimeError("a rollback needs the model registry (no tracking URI)")
    alias = action.alias or context.default_alias
    assert alias is not None  # the policy guarantees one
    model, bad = incident["model"], incident["version"]
    current = registry.get_model_version_by_alias(model, alias).version
    if current != bad:  # someone (or an earlier attempt) already moved it: do not move it again
        return {"alias": alias, "skipped": f"{alias} points to version {current}, not {bad}"}
    reason = f"monitor: {incident['alert']} ({incident['condition']}) on version {bad}"
    moved = registry.rollback_alias(model, alias, reason=reason)
    return {"alias": alias, "from_version": bad, "to_version": moved.version}


def _command(
    action: CommandAction, incident: Mapping[str, Any], context: ActionContext
) -> dict[str, Any]:
    env = dict(context.environ)
    env.update(
        {
            "SHIPYARD_MONITOR_MODEL": str(incident["model"]),
            "SHIPYARD_MONITOR_VERSION": str(incident["version"]),
            "SHIPYARD_MONITOR_ALERT": str(incident["alert"]),
            "SHIPYARD_MONITOR_INCIDENT": str(incident["id"]),
        }
    )
    done = subprocess.run(
        action.command,
        cwd=action.cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=action.timeout,
        check=False,
    )
    result = {"exit_code": done.returncode, "output_tail": (done.stdout + done.stderr)[-500:]}
    if done.returncode != 0:
        raise RuntimeError(f"command exited with {done.returncode}: {result['output_tail']}")
    return result
