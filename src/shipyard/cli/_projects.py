"""``shipyard run`` and ``shipyard reproduce``: projects, run with everything recorded, and proven
reproducible. Both are non-interactive and exit with a code CI can act on; the run id and its
link are the last lines printed."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.table import Table

from shipyard.cli._common import TrackingUri, client_for, console, err_console, handle_errors
from shipyard.client import Client
from shipyard.client._backend import is_remote
from shipyard.projects import ReproduceReport, RunOptions, reproduce, run_project
from shipyard.projects._params import parse_assignments

__all__ = ["reproduce_command", "run_command"]

CacheDir = typer.Option(
    None,
    "--env-cache-dir",
    help="Where built environments are kept (default: $SHIPYARD_ENV_CACHE_DIR or "
    "~/.cache/shipyard/envs).",
)


def _log(message: str) -> None:
    err_console.print(f"[dim]shipyard:[/dim] {message}", highlight=False, soft_wrap=True)


def _print_run(client: Client, run_id: str, experiment_id: str) -> None:
    console.print(f"run id: {run_id}", soft_wrap=True)
    if is_remote(client.tracking_uri):
        base = client.tracking_uri.rstrip("/")
        console.print(f"link: {base}/#/experiments/{experiment_id}/runs/{run_id}", soft_wrap=True)
    else:
        where = f"shipyard runs show {run_id} --tracking-uri {client.tracking_uri}"
        console.print(f"link: {where}", soft_wrap=True, highlight=False)


@handle_errors
def run_command(
    uri: str = typer.Argument(".", help="A project folder or file, or a git URL (url#subdir)."),
    entry_point: str = typer.Option(
        "main", "--entry-point", "-e", help="An entry point of the project file, or a .py/.sh file."
    ),
    param: list[str] = typer.Option([], "--param", "-P", help="key=value (repeatable)."),
    experiment_name: str | None = typer.Option(
        None, "--experiment-name", help="Created if new (default: the default experiment)."
    ),
    experiment_id: str | None = typer.Option(
        None, "--experiment-id", help="An existing experiment."
    ),
    run_name: str | None = typer.Option(
        None, "--run-name", help="Default: <project name>-<entry point>."
    ),
    env_manager: str | None = typer.Option(
        None,
        "--env-manager",
        help="local, virtualenv or docker (default: what the project declares).",
    ),
    version: str | None = typer.Option(
        None, "--version", "-v", help="Branch, tag or commit of a git URL."
    ),
    env_cache_dir: Path | None = CacheDir,
    tracking_uri: str | None = TrackingUri,
) -> None:
    """Run a project's entry point with its parameters, environment, code and data recorded."""
    client = client_for(tracking_uri)
    options = RunOptions(
        uri=uri, entry_point=entry_point, params=parse_assignments(param),
        experiment_id=experiment_id, experiment_name=experiment_name, run_name=run_name,
        env_manager=env_manager, version=version, cache_dir=env_cache_dir,
    )  # fmt: skip
    outcome = run_project(client, options, sys.stdout, _log)
    colour = "green" if outcome.status == "FINISHED" else "red"
    console.print(f"[{colour}]{outcome.status}[/{colour}] (exit code {outcome.exit_code})")
    _print_run(client, outcome.run_id, outcome.experiment_id)
    raise typer.Exit(outcome.exit_code)


def _table(report: ReproduceReport) -> Table:
    table = Table("", "what", "original", "reproduction", "", title="reproduction")
    for row in report.rows:
        mark = "[green]ok[/green]" if row.ok else "[red]DIFFERS[/red]"
        table.add_row(row.kind, row.name, row.original, row.reproduced, mark)
    return table


@handle_errors
def reproduce_command(
    run_id: str = typer.Argument(..., help="A run started by `shipyard run`."),
    tolerance: float = typer.Option(
        1e-9, "--tolerance", help="Largest absolute difference allowed between two metric values."
    ),
    source: str | None = typer.Option(
        None, "--source", help="Clone the recorded commit from here instead (a path or git URL)."
    ),
    env_cache_dir: Path | None = CacheDir,
    tracking_uri: str | None = TrackingUri,
) -> None:
    """Re-run a recorded run from a clean checkout of its commit, its recorded environment, data
    and parameters; compare metrics and models; exit 1 when it did not reproduce."""
    client = client_for(tracking_uri)
    report = reproduce(client, run_id, tolerance, env_cache_dir, source, sys.stdout, _log)
    console.print(_table(report))
    if report.passed:
        console.print(f"[green]reproduced[/green]: run {run_id} gives the same results")
    else:
        console.print(f"[red]NOT reproduced[/red]: run {run_id}")
        for cause in report.causes:
            console.print(f"  - {cause}", highlight=False)
    experiment_id = client.get_run(report.run_id).info.experiment_id
    _print_run(client, report.run_id, experiment_id)
    raise typer.Exit(0 if report.passed else 1)
