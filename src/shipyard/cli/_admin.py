"""``shipyard db upgrade|current`` and ``shipyard gc``."""

from __future__ import annotations

import re

import typer
from rich.filesize import decimal

from shipyard.cli._common import console, err_console, handle_errors
from shipyard.errors import InvalidParameter
from shipyard.settings import Settings

db_app = typer.Typer(help="Database schema: show the version, upgrade.", no_args_is_help=True)

BackendUri = typer.Option(
    None, "--backend-store-uri", help="Database URI (default: $SHIPYARD_BACKEND_STORE_URI)."
)


def _db_uri(uri: str | None) -> str:
    return uri or Settings.from_env().backend_store_uri


@db_app.command()
@handle_errors
def current(backend_store_uri: str | None = BackendUri) -> None:
    """Print the schema revision of the database and the one this Shipyard needs."""
    from shipyard.store.sql import current_revision, head_revision, make_engine

    engine = make_engine(_db_uri(backend_store_uri))
    console.print(f"database: {current_revision(engine) or 'empty'}; needed: {head_revision()}")


@db_app.command("upgrade")
@handle_errors
def upgrade_(backend_store_uri: str | None = BackendUri) -> None:
    """Migrate the database schema to this Shipyard's version (back it up first)."""
    from shipyard.store.sql import current_revision, make_engine, upgrade

    engine = make_engine(_db_uri(backend_store_uri))
    before = current_revision(engine)
    upgrade(engine)
    console.print(f"schema upgraded: {before or 'empty'} -> {current_revision(engine)}")


_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def parse_duration(text: str) -> int:
    match = _DURATION.match(text.strip())
    if not match:
        raise InvalidParameter(f"Invalid duration '{text}': use a number and s, m, h or d (30d).")
    return int(match.group(1)) * _UNIT_MS[match.group(2)]


@handle_errors
def gc(
    backend_store_uri: str | None = BackendUri,
    artifact_root: str | None = typer.Option(
        None,
        "--artifacts-destination",
        "--default-artifact-root",
        help="The server's artifact root, a folder or s3://bucket/prefix "
        "(default: $SHIPYARD_ARTIFACT_ROOT).",
    ),
    older_than: str | None = typer.Option(
        None, help="Only runs deleted at least this long ago, e.g. 30d, 12h."
    ),
    run_ids: str | None = typer.Option(None, help="Comma-separated deleted run ids."),
    experiment_ids: str | None = typer.Option(None, help="Comma-separated deleted experiment ids."),
    uploads_older_than: str = typer.Option(
        "24h", help="Abort multipart uploads started this long ago and never completed."
    ),
) -> None:
    """Permanently remove deleted runs, experiments and logged models, with their artifacts,
    and abandoned multipart uploads. Whatever a registered model version uses is kept."""
    from shipyard.store.sql import SqlStore
    from shipyard.tracking._gc import collect_garbage

    settings = Settings.from_env()
    root = artifact_root or settings.artifact_root
    store = SqlStore(_db_uri(backend_store_uri), root)
    report = collect_garbage(
        store,
        root,
        parse_duration(older_than) if older_than else None,
        [r for r in (run_ids or "").split(",") if r],
        [e for e in (experiment_ids or "").split(",") if e],
        s3=settings.s3,
        upload_age_s=parse_duration(uploads_older_than) / 1000,
    )
    console.print(
        f"removed {len(report.runs)} run(s), {len(report.experiments)} experiment(s), "
        f"{len(report.logged_models)} logged model(s) and {report.stale_uploads} abandoned "
        f"upload(s); freed {report.bytes_freed} bytes ({decimal(report.bytes_freed)})"
    )
    for kept in report.kept:
        console.print(f"[yellow]kept[/yellow] {kept}: delete the version first")
    for uri in report.skipped_artifacts:
        console.print(f"[yellow]left artifacts outside {root}:[/yellow] {uri}")
    for failure in report.failed_artifacts:
        err_console.print(f"[red]could not delete artifacts[/red] {failure}")
