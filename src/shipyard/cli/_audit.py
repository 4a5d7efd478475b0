"""``shipyard audit log|verify`` and ``shipyard webhooks add|list|delete|deliveries``."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from shipyard.cli._common import (
    TrackingUri,
    client_for,
    console,
    err_console,
    fmt_time,
    handle_errors,
)
from shipyard.wire_registry import audit_event_to_json, delivery_to_json

__all__ = ["audit_app", "webhooks_app"]

audit_app = typer.Typer(help="The registry's tamper-evident audit trail.", no_args_is_help=True)
webhooks_app = typer.Typer(help="Registry events delivered to URLs.", no_args_is_help=True)


def _short(value: object) -> str:
    return "-" if value is None else (value if isinstance(value, str) else json.dumps(value))


@audit_app.command("log")
@handle_errors
def log(
    model: str | None = typer.Option(None, "--model", "-m", help="Only this model's events."),
    limit: int | None = typer.Option(None, "--limit", "-n", help="The newest N events."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON lines."),
    tracking_uri: str | None = TrackingUri,
) -> None:
    """Who moved what, when and why, oldest first."""
    events = client_for(tracking_uri).audit_events(model)
    if limit is not None:
        events = events[-limit:]
    if as_json:
        for e in events:
            typer.echo(json.dumps(audit_event_to_json(e), sort_keys=True))
        return
    table = Table(
        "#", "time", "actor", "action", "model", "version", "alias", "before → after", "reason"
    )
    for e in events:
        change = (
            f"{_short(e.before)} → {_short(e.after)}"
            if e.before is not None or e.after is not None
            else ""
        )
        table.add_row(
            str(e.seq), fmt_time(e.time_ms), e.actor, e.action, e.model_name or "-",
            e.version or "-", e.alias or "-", change, e.reason or "",
        )  # fmt: skip
    console.print(table)


@audit_app.command("verify")
@handle_errors
def verify(tracking_uri: str | None = TrackingUri) -> None:
    """Recompute the hash chain; exit 1 and name the first bad event if it was tampered with."""
    verdict = client_for(tracking_uri).verify_audit()
    if verdict.ok:
        console.print(f"audit trail intact: {verdict.events} events, chain verified")
        return
    err_console.print(f"[red]audit trail broken[/red] at event {verdict.seq}: {verdict.problem}")
    raise typer.Exit(1)


@webhooks_app.command("add")
@handle_errors
def add(
    url: str,
    event: list[str] = typer.Option(
        ["*"], "--event", "-e", help="Pattern such as alias.* (repeatable)."
    ),
    model: str | None = typer.Option(None, "--model", "-m", help="Only this model's events."),
    secret: str | None = typer.Option(None, "--secret", help="HMAC secret (default: generated)."),
    tracking_uri: str | None = TrackingUri,
) -> None:
    """Deliver matching registry events to URL (signed with X-Shipyard-Signature)."""
    hook = client_for(tracking_uri).create_webhook(url, event, model, secret)
    console.print(f"webhook {hook.id} → {hook.url} for {', '.join(hook.events)}")
    console.print(f"secret: {hook.secret}")


@webhooks_app.command("list")
@handle_errors
def list_hooks(tracking_uri: str | None = TrackingUri) -> None:
    """Configured webhooks."""
    table = Table("id", "url", "events", "model", "created")
    for h in client_for(tracking_uri).list_webhooks():
        table.add_row(
            h.id, h.url, ", ".join(h.events), h.model_name or "*", fmt_time(h.created_time)
        )
    console.print(table)


@webhooks_app.command("delete")
@handle_errors
def delete(hook_id: str, tracking_uri: str | None = TrackingUri) -> None:
    """Remove a webhook and its pending deliveries."""
    client_for(tracking_uri).delete_webhook(hook_id)
    console.print(f"deleted webhook {hook_id}")


@webhooks_app.command("deliveries")
@handle_errors
def deliveries(
    hook_id: str | None = typer.Argument(None),
    as_json: bool = typer.Option(False, "--json"),
    tracking_uri: str | None = TrackingUri,
) -> None:
    """Every delivery attempt's outcome."""
    found = client_for(tracking_uri).list_webhook_deliveries(hook_id)
    if as_json:
        typer.echo(json.dumps([delivery_to_json(d) for d in found], indent=2))
        return
    table = Table("id", "webhook", "event", "status", "attempts", "last code", "last error")
    for d in found:
        table.add_row(
            str(d.id), d.webhook_id, str(d.event_seq), d.status, str(d.attempts),
            str(d.last_status_code or "-"), d.last_error or "",
        )  # fmt: skip
    console.print(table)
