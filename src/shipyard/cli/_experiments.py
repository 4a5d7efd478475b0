"""``shipyard experiments list|create|delete|restore``."""

from __future__ import annotations

import typer
from rich.table import Table

from shipyard.cli._common import TrackingUri, client_for, console, fmt_time, handle_errors
from shipyard.entities import ViewType

app = typer.Typer(help="Create, list, delete and restore experiments.", no_args_is_help=True)


@app.command("list")
@handle_errors
def list_(
    view: ViewType = typer.Option(ViewType.ACTIVE_ONLY, help="Which experiments to show."),
    filter_string: str | None = typer.Option(None, "--filter", help="e.g. \"name LIKE 'demo%'\""),
    tracking_uri: str | None = TrackingUri,
) -> None:
    """List experiments."""
    client = client_for(tracking_uri)
    table = Table("id", "name", "stage", "created", "artifact location", "tags")
    token = None
    while True:
        page = client.search_experiments(filter_string, view, 1000, (), token)
        for e in page.items:
            tags = ", ".join(f"{k}={v}" for k, v in sorted(e.tags.items()))
            table.add_row(
                e.experiment_id, e.name, e.lifecycle_stage, fmt_time(e.creation_time),
                e.artifact_location, tags,
            )  # fmt: skip
        token = page.next_page_token
        if not token:
            break
    console.print(table)


@app.command()
@handle_errors
def create(
    name: str = typer.Argument(..., help="Experiment name (unique)."),
    artifact_location: str | None = typer.Option(None, help="Where its runs keep artifacts."),
    required_tag: list[str] = typer.Option(
        [], "--required-tag", "-r", help="A tag every finished run must carry (repeatable)."
    ),
    tracking_uri: str | None = TrackingUri,
) -> None:
    """Create an experiment; prints its id."""
    exp_id = client_for(tracking_uri).create_experiment(
        name, artifact_location, required_tags=required_tag
    )
    console.print(f"Created experiment [bold]{name}[/bold] with id {exp_id}")


@app.command()
@handle_errors
def delete(
    experiment_id: str = typer.Argument(...), tracking_uri: str | None = TrackingUri
) -> None:
    """Mark an experiment and its runs deleted (``shipyard gc`` removes them for good)."""
    client_for(tracking_uri).delete_experiment(experiment_id)
    console.print(f"Experiment {experiment_id} deleted")


@app.command()
@handle_errors
def restore(
    experiment_id: str = typer.Argument(...), tracking_uri: str | None = TrackingUri
) -> None:
    """Restore a deleted experiment and its runs."""
    client_for(tracking_uri).restore_experiment(experiment_id)
    console.print(f"Experiment {experiment_id} restored")
