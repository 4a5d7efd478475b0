"""``shipyard runs list|search|show|compare|delete|restore``."""

from __future__ import annotations

import math

import typer
from rich.table import Table

from shipyard._text import is_decimal
from shipyard.cli._common import TrackingUri, client_for, console, fmt_time, handle_errors
from shipyard.client import Client
from shipyard.entities import Run, ViewType
from shipyard.errors import ExperimentNotFound

app = typer.Typer(help="Search, inspect, compare, delete and restore runs.", no_args_is_help=True)


def _experiment_ids(client: Client, experiment: list[str]) -> list[str]:
    """Accept ids or names; default to every active experiment."""
    if not experiment:
        return [e.experiment_id for e in client.search_experiments(max_results=50000).items]
    ids = []
    for ref in experiment:
        found = client.get_experiment_by_name(ref)
        if found is not None:
            ids.append(found.experiment_id)
        elif is_decimal(ref):
            ids.append(client.get_experiment(ref).experiment_id)
        else:
            raise ExperimentNotFound(f"No experiment named or numbered '{ref}'.")
    return ids


def _runs_table(runs: list[Run], metric_keys: list[str]) -> Table:
    table = Table("run id", "name", "status", "started", *metric_keys)
    for r in runs:
        values = {m.key: m.value for m in r.data.metrics}
        table.add_row(
            r.info.run_id, r.info.run_name, r.info.status, fmt_time(r.info.start_time),
            *[_num(values.get(k)) for k in metric_keys],
        )  # fmt: skip
    return table


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.6g}"


ExperimentOpt = typer.Option([], "--experiment", "-e", help="Experiment id or name (repeatable).")


@app.command()
@handle_errors
def search(
    experiment: list[str] = ExperimentOpt,
    filter_string: str | None = typer.Option(
        None, "--filter", "-f", help="e.g. \"metrics.acc > 0.9 AND params.model = 'rf'\""
    ),
    order_by: list[str] = typer.Option([], "--order-by", "-o", help="e.g. 'metrics.acc DESC'"),
    max_results: int = typer.Option(100, "--max-results", "-n"),
    view: ViewType = typer.Option(ViewType.ACTIVE_ONLY),
    tracking_uri: str | None = TrackingUri,
) -> None:
    """Search runs with MLflow's filter syntax."""
    client = client_for(tracking_uri)
    ids = _experiment_ids(client, experiment)
    page = client.search_runs(ids, filter_string, view, max_results, order_by)
    keys = sorted({m.key for r in page.items for m in r.data.metrics})[:6]
    console.print(_runs_table(page.items, keys))
    if page.next_page_token:
        console.print(f"[dim]more results; page token: {page.next_page_token}[/dim]")


@app.command("list")
@handle_errors
def list_(
    experiment: list[str] = ExperimentOpt,
    max_results: int = typer.Option(100, "--max-results", "-n"),
    view: ViewType = typer.Option(ViewType.ACTIVE_ONLY),
    tracking_uri: str | None = TrackingUri,
) -> None:
    """List the newest runs."""
    search(experiment, None, [], max_results, view, tracking_uri)


@app.command()
@handle_errors
def show(run_id: str = typer.Argument(...), tracking_uri: str | None = TrackingUri) -> None:
    """Everything about one run."""
    run = client_for(tracking_uri).get_run(run_id)
    i = run.info
    console.print(f"[bold]{i.run_name}[/bold] ({i.run_id}) in experiment {i.experiment_id}")
    console.print(f"status {i.status}, {i.lifecycle_stage}, user {i.user_id}")
    console.print(f"started {fmt_time(i.start_time)}, ended {fmt_time(i.end_time)}")
    console.print(f"artifacts {i.artifact_uri}")
    for title, rows in (
        ("params", sorted(run.data.params.items())),
        ("metrics (latest)", sorted((m.key, _num(m.value)) for m in run.data.metrics)),
        ("tags", sorted(run.data.tags.items())),
        ("inputs", [(d.dataset.name, d.dataset.digest) for d in run.inputs]),
    ):
        if rows:
            table = Table("key", "value", title=title, title_justify="left")
            for k, v in rows:
                table.add_row(k, v)
            console.print(table)


def _delta(base: float | None, value: float | None) -> str:
    if base is None or value is None or math.isnan(base) or math.isnan(value):
        return _num(value)
    diff = value - base
    return f"{value:.6g} ({'+' if diff >= 0 else ''}{diff:.3g})"


@app.command()
@handle_errors
def compare(
    run_ids: list[str] = typer.Argument(..., help="Two or more run ids; the first is the base."),
    all_params: bool = typer.Option(False, "--all", help="Show params that are equal too."),
    tracking_uri: str | None = TrackingUri,
) -> None:
    """Runs side by side: params that differ, metrics with deltas against the first run."""
    if len(run_ids) < 2:
        raise typer.BadParameter("compare needs at least two run ids")
    client = client_for(tracking_uri)
    runs = [client.get_run(r) for r in run_ids]
    cols = [f"{r.info.run_name}\n{r.info.run_id[:8]}" for r in runs]
    params = Table("param", *cols, title="params" + ("" if all_params else " that differ"))
    for key in sorted({k for r in runs for k in r.data.params}):
        values = [r.data.params.get(key, "-") for r in runs]
        if all_params or len(set(values)) > 1:
            params.add_row(key, *values)
    metrics = Table("metric", *cols, title="metrics (latest, delta vs first)")
    latest = [{m.key: m.value for m in r.data.metrics} for r in runs]
    for key in sorted({k for m in latest for k in m}):
        base = latest[0].get(key)
        metrics.add_row(key, _num(base), *[_delta(base, m.get(key)) for m in latest[1:]])
    console.print(params)
    console.print(metrics)


@app.command()
@handle_errors
def delete(run_id: str = typer.Argument(...), tracking_uri: str | None = TrackingUri) -> None:
    """Mark a run deleted (``shipyard gc`` removes it for good)."""
    client_for(tracking_uri).delete_run(run_id)
    console.print(f"Run {run_id} deleted")


@app.command()
@handle_errors
def restore(run_id: str = typer.Argument(...), tracking_uri: str | None = TrackingUri) -> None:
    """Restore a deleted run."""
    client_for(tracking_uri).restore_run(run_id)
    console.print(f"Run {run_id} restored")
