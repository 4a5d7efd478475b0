"""``shipyard models list|show|versions|register|alias|stage|protect|requests|approve|reject|
rollback|lineage``: the model registry from the command line.

Every command that moves something takes ``--reason``, recorded in the audit trail with the
acting user (``$SHIPYARD_USER``, else the login name).
"""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.table import Table

from shipyard.cli._common import TrackingUri, client_for, console, fmt_time, handle_errors
from shipyard.entities import ApprovalRequest, ModelVersion
from shipyard.errors import InvalidParameter
from shipyard.models._locate import registered_version

__all__ = [
    "alias",
    "approve",
    "lineage",
    "list_models",
    "protect",
    "register",
    "reject",
    "requests",
    "rollback",
    "show",
    "stage",
    "versions",
]

Reason = typer.Option(None, "--reason", "-r", help="Why: recorded in the audit trail.")
AsJson = typer.Option(False, "--json", help="Print JSON instead of a table.")


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def _version_row(v: ModelVersion) -> list[str]:
    return [
        v.version,
        v.current_stage,
        ", ".join(v.aliases) or "-",
        v.run_id or "-",
        v.user_id or "-",
        fmt_time(v.creation_time),
        v.source,
    ]


def _request_line(r: ApprovalRequest) -> str:
    return (
        f"request {r.id}: move {r.name}@{r.alias} to version {r.version} "
        f"({r.status}, asked by {r.requested_by})"
    )


@handle_errors
def list_models(
    filter_string: str | None = typer.Option(
        None, "--filter", "-f", help="e.g. \"name LIKE 'churn%'\""
    ),
    max_results: int = typer.Option(100, "--max-results", "-n"),
    tracking_uri: str | None = TrackingUri,
) -> None:
    """Registered models with their aliases and newest versions."""
    page = client_for(tracking_uri).search_registered_models(filter_string, max_results)
    table = Table("name", "aliases", "latest versions", "updated", "description")
    for m in page.items:
        aliases = ", ".join(f"{a}→v{v}" for a, v in sorted(m.aliases.items())) or "-"
        latest = ", ".join(f"v{v.version} ({v.current_stage})" for v in m.latest_versions) or "-"
        table.add_row(m.name, aliases, latest, fmt_time(m.last_updated_time), m.description or "")
    console.print(table)


@handle_errors
def show(name: str, as_json: bool = AsJson, tracking_uri: str | None = TrackingUri) -> None:
    """One registered model: description, tags, aliases (protected ones marked), stages."""
    m = client_for(tracking_uri).get_registered_model(name)
    if as_json:
        from shipyard.wire_registry import registered_model_to_json

        _print_json(registered_model_to_json(m))
        return
    console.print(f"[bold]{m.name}[/bold]  created {fmt_time(m.creation_time)} by {m.user_id}")
    if m.description:
        console.print(m.description)
    for key, value in sorted(m.tags.items()):
        console.print(f"  tag {key} = {value}")
    for a, number in sorted(m.aliases.items()):
        lock = " (protected)" if a in m.protected_aliases else ""
        console.print(f"  @{a} → version {number}{lock}")
    for a in sorted(set(m.protected_aliases) - set(m.aliases)):
        console.print(f"  @{a} (protected, not set)")
    for v in m.latest_versions:
        console.print(f"  latest in {v.current_stage}: version {v.version}")


@handle_errors
def versions(
    name: str,
    max_results: int = typer.Option(1000, "--max-results", "-n"),
    as_json: bool = AsJson,
    tracking_uri: str | None = TrackingUri,
) -> None:
    """Every version of a model, newest first."""
    page = client_for(tracking_uri).search_model_versions(
        f"name = '{name}'", max_results, ["version_number DESC"]
    )
    if as_json:
        from shipyard.wire_registry import model_version_to_json

        _print_json([model_version_to_json(v) for v in page.items])
        return
    table = Table("version", "stage", "aliases", "run", "by", "created", "source")
    for v in page.items:
        table.add_row(*_version_row(v))
    console.print(table)


@handle_errors
def register(
    model_uri: str = typer.Argument(..., help="runs:/<run_id>/<path>, models:/m-<id> or a URI"),
    name: str = typer.Option(..., "--name", "-m", help="Registered model name (created if new)."),
    reason: str | None = Reason,
    tracking_uri: str | None = TrackingUri,
) -> None:
    """Register a logged model as a new version of NAME."""
    mv = client_for(tracking_uri).register_model(model_uri, name, reason=reason)
    console.print(f"Registered {name} version {mv.version} from {mv.source}")


@handle_errors
def alias(
    name: str,
    alias_name: str = typer.Argument(..., metavar="ALIAS"),
    version: str | None = typer.Argument(None, help="Version to point at (omit with --delete)."),
    delete: bool = typer.Option(False, "--delete", help="Remove the alias instead."),
    reason: str | None = Reason,
    tracking_uri: str | None = TrackingUri,
) -> None:
    """Point ALIAS at VERSION; a protected alias files an approval request instead."""
    client = client_for(tracking_uri)
    if delete:
        client.delete_registered_model_alias(name, alias_name, reason=reason)
        console.print(f"Removed {name}@{alias_name}")
        return
    if version is None:
        raise InvalidParameter("Give the VERSION to point the alias at (or --delete).")
    moved = client.move_alias(name, alias_name, version, reason=reason)
    if moved.request is not None:
        console.print(
            f"{name}@{alias_name} is protected: filed {_request_line(moved.request)}.\n"
            f"Another person approves it with: shipyard models approve {moved.request.id}"
        )
        return
    console.print(f"{name}@{alias_name} → version {version}")


@handle_errors
def stage(
    name: str,
    version: str,
    stage_name: str = typer.Argument(
        ..., metavar="STAGE", help="None, Staging, Production, Archived"
    ),
    archive_existing: bool = typer.Option(
        False, "--archive-existing", help="Archive the versions now in that stage."
    ),
    reason: str | None = Reason,
    tracking_uri: str | None = TrackingUri,
) -> None:
    """Move a version to one of MLflow's legacy stages."""
    mv = client_for(tracking_uri).transition_model_version_stage(
        name, version, stage_name, archive_existing, reason=reason
    )
    console.print(f"{name} version {mv.version} is now in {mv.current_stage}")


@handle_errors
def protect(
    name: str,
    alias_name: str = typer.Argument(..., metavar="ALIAS"),
    off: bool = typer.Option(False, "--off", help="Remove the protection."),
    reason: str | None = Reason,
    tracking_uri: str | None = TrackingUri,
) -> None:
    """Require a second person's approval to move ALIAS."""
    client_for(tracking_uri).protect_alias(name, alias_name, protect=not off, reason=reason)
    state = "no longer protected" if off else "protected: moves need an approved request"
    console.print(f"{name}@{alias_name} is {state}")


@handle_errors
def requests(
    name: str | None = typer.Argument(None, help="Only this model's requests."),
    status: str | None = typer.Option(None, "--status", help="PENDING, APPROVED or REJECTED"),
    tracking_uri: str | None = TrackingUri,
) -> None:
    """Approval requests for protected aliases."""
    table = Table("id", "model", "alias", "version", "status", "asked by", "reason", "decided by")
    for r in client_for(tracking_uri).list_approvals(name, status):
        table.add_row(
            r.id, r.name, r.alias, r.version, r.status, r.requested_by, r.reason or "",
            r.decided_by or "-",
        )  # fmt: skip
    console.print(table)


@handle_errors
def approve(
    request_id: str,
    comment: str | None = typer.Option(None, "--comment", "-c"),
    tracking_uri: str | None = TrackingUri,
) -> None:
    """Approve someone else's request: the alias moves now."""
    r = client_for(tracking_uri).approve(request_id, comment)
    console.print(f"Approved: {r.name}@{r.alias} → version {r.version}")


@handle_errors
def reject(
    request_id: str,
    comment: str | None = typer.Option(None, "--comment", "-c"),
    tracking_uri: str | None = TrackingUri,
) -> None:
    """Reject a request; the alias stays where it is."""
    r = client_for(tracking_uri).reject(request_id, comment)
    console.print(f"Rejected: {r.name}@{r.alias} stays; request {r.id} closed")


@handle_errors
def rollback(
    name: str,
    alias_name: str = typer.Option("production", "--alias", "-a"),
    reason: str | None = Reason,
    tracking_uri: str | None = TrackingUri,
) -> None:
    """Move ALIAS back to the version it pointed at before (from the audit trail)."""
    client = client_for(tracking_uri)
    before = client.get_model_version_by_alias(name, alias_name).version
    mv = client.rollback_alias(name, alias_name, reason=reason)
    console.print(f"Rolled back {name}@{alias_name}: version {before} → version {mv.version}")


@handle_errors
def lineage(
    model_uri: str = typer.Argument(..., help="models:/<name>/<version> or models:/<name>@<alias>"),
    as_json: bool = AsJson,
    tracking_uri: str | None = TrackingUri,
) -> None:
    """Where a version came from: run, code, data, logged model, requirements."""
    client = client_for(tracking_uri)
    if not model_uri.startswith("models:/"):
        raise InvalidParameter(
            f"{model_uri!r}: give models:/<name>/<version> or models:/<name>@<alias>"
        )
    name, version = registered_version(model_uri, client)
    doc = client.get_model_version_lineage(name, version)
    if as_json:
        _print_json(doc)
        return
    aliases = ", ".join(doc["aliases"]) or "-"
    console.print(f"[bold]{name} version {version}[/bold]  ({doc['stage']}, aliases: {aliases})")
    console.print(f"  registered {fmt_time(doc['registered_at'])} by {doc['registered_by']}")
    console.print(f"  source      {doc['source']}")
    console.print(f"  files       {doc['download_uri']}")
    if doc.get("logged_model"):
        lm = doc["logged_model"]
        console.print(f"  model       {lm['model_id']} ({lm['name']})")
    run = doc.get("run")
    if run:
        where = f"experiment {run.get('experiment_id')} by {run.get('user_id')}"
        console.print(f"  run         {run['run_id']} {run.get('run_name') or ''} in {where}")
        for key, value in sorted((run.get("params") or {}).items()):
            console.print(f"    param {key} = {value}")
    code = doc.get("code") or {}
    if code:
        repo, commit = code.get("git_repo") or "-", code.get("git_commit") or "-"
        console.print(f"  code        {repo} @ {commit} ({code.get('source_name') or '-'})")
    for d in doc.get("datasets") or []:
        context = d.get("context") or "-"
        console.print(
            f"  data        {d['name']} digest {d['digest']} ({context}) from {d['source']}"
        )
    requirements = doc.get("requirements")
    if requirements:
        console.print("  environment " + ", ".join(requirements))
