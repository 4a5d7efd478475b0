"""``shipyard monitor report|labels|run``: drift and performance reports, ground truth
ingestion, and the alert policy loop."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import typer
from rich.table import Table

from shipyard._text import is_decimal
from shipyard.cli._common import TrackingUri, client_for, console, err_console, handle_errors
from shipyard.errors import InvalidParameter, ShipyardError
from shipyard.settings import Settings

if TYPE_CHECKING:  # the commands import monitoring (scipy) themselves: it costs ~0.5 s at start-up
    from shipyard.monitoring import MonitorPolicy
    from shipyard.monitoring._actions import Registry
    from shipyard.monitoring._monitor import Baseline, Monitor

app = typer.Typer(
    help="Drift, realized performance and health of served models; alerts that act.",
    no_args_is_help=True,
)

PolicyOpt = typer.Option(None, "--policy", "-p", help="monitor.yaml (log, state folder, ...).")
LogOpt = typer.Option(None, "--log", help="Inference log root (default: the policy's).")
StateOpt = typer.Option(
    None, "--state", help="Monitoring folder: profiles, labels, incidents (default: the policy's)."
)


@app.command()
@handle_errors
def report(
    model: str | None = typer.Option(None, "--model", "-m", help="Registered model name."),
    since: str = typer.Option(..., "--since", help="ISO date/time, or e.g. 24h, 7d (ago)."),
    until: str | None = typer.Option(None, "--until", help="ISO date/time (default: now)."),
    window: str = typer.Option("hour", "--window", "-w", help="hour, day or '<N> rows'."),
    version: list[str] = typer.Option([], "--version", help="Only these versions (repeatable)."),
    reference: str | None = typer.Option(
        None, "--reference", help="Reference profile: JSON file, model folder or model URI."
    ),
    output: Path = typer.Option(
        Path("monitoring-report"), "--output", "-o", help="Writes <output>.html and .json."
    ),
    policy_path: Path | None = PolicyOpt,
    log: str | None = LogOpt,
    state: Path | None = StateOpt,
    tracking_uri: str | None = TrackingUri,
) -> None:
    """Write a self-contained HTML page and its JSON: drift, performance, latency per window."""
    from shipyard.monitoring import build_report, load_policy, write_report

    policy = load_policy(policy_path) if policy_path else None
    name = model or (policy.model if policy else None)
    if not name:
        raise InvalidParameter("give --model (or a --policy that names one)")
    monitor = _monitor(policy, log, state, reference, tracking_uri)
    start = _when(since, monitor.now())
    end = _when(until, monitor.now()) if until else None
    with console.status(f"Profiling the inference log of {name} ..."):
        found = build_report(
            monitor,
            name,
            start,
            end,
            window,
            versions=version or None,
            task=policy.performance.task if policy else "auto",
            positive_label=policy.performance.positive_label if policy else None,
            baseline=_baseline(policy, name, tracking_uri),
        )
    paths = write_report(found, output)
    console.print(_summary(found))
    console.print("Wrote " + " and ".join(str(p) for p in paths))


@app.command()
@handle_errors
def labels(
    input_path: Path = typer.Option(
        ..., "--input", "-i", help="Parquet or CSV with request_id, label (+ row, timestamp)."
    ),
    policy_path: Path | None = PolicyOpt,
    state: Path | None = StateOpt,
) -> None:
    """Store ground truth for logged predictions; it joins by request id whenever it arrives."""
    from shipyard.monitoring import LabelStore, load_policy

    policy = load_policy(policy_path) if policy_path else None
    folder = state or Path(policy.state_dir if policy else "monitoring")
    stored = LabelStore(folder / "labels").ingest(_read_table(input_path))
    console.print(f"Stored {stored} labels in {folder / 'labels'}")


@app.command()
@handle_errors
def run(
    policy_path: Path = typer.Option(
        Path("monitor.yaml"), "--policy", "-p", help="The alert policy."
    ),
    once: bool = typer.Option(False, "--once", help="Evaluate once and exit."),
    interval: float = typer.Option(300.0, "--interval", help="Seconds between evaluations."),
    tracking_uri: str | None = TrackingUri,
) -> None:
    """Evaluate the policy's alerts on the latest windows and run their actions."""
    from shipyard.monitoring import ActionContext, load_policy, policy_monitor, run_once

    policy = load_policy(policy_path)
    uri = policy.tracking_uri or tracking_uri
    registry = _registry(uri)
    context = ActionContext(registry, default_alias=policy.alias)
    while True:
        try:
            monitor = policy_monitor(policy, tracking_uri=uri, s3=Settings.from_env().s3)
            _print_run(run_once(policy, monitor, context))
        except ShipyardError as exc:
            if once:
                raise
            # a loop that watches production keeps going: the next evaluation may succeed
            err_console.print(f"[red]error[/red] ({exc.code}): {exc.message}")
        if once:
            return
        time.sleep(interval)


def _monitor(
    policy: MonitorPolicy | None,
    log: str | None,
    state: Path | None,
    reference: str | None,
    tracking_uri: str | None,
) -> Monitor:
    from shipyard.monitoring import Monitor, load_reference, policy_monitor

    if policy is not None and not (log or state or reference):
        uri = policy.tracking_uri or tracking_uri
        return policy_monitor(policy, tracking_uri=uri, s3=Settings.from_env().s3)
    log_root = log or (policy.inference_log if policy else "inference-log")
    folder = state or Path(policy.state_dir if policy else "monitoring")
    source = reference or (policy.reference if policy else None)
    fixed = load_reference(source, tracking_uri=tracking_uri) if source else None
    if fixed is None:
        err_console.print("[yellow]no --reference: drift is skipped, operations only[/yellow]")
    drift = policy.drift if policy else None
    return Monitor(log_root, folder, fixed, drift=drift, s3=Settings.from_env().s3)


def _baseline(policy: MonitorPolicy | None, model: str, tracking_uri: str | None) -> Baseline:
    """The policy's baseline, else each version's run metrics when a tracking URI is known."""
    from shipyard.monitoring._baseline import run_baseline

    if policy is not None and policy.performance.baseline:
        return policy.performance.baseline
    uri = tracking_uri or (policy.tracking_uri if policy else None)
    return run_baseline(client_for(uri), model) if uri else None


def _registry(tracking_uri: str | None) -> Registry | None:
    from shipyard.monitoring._actions import Registry

    client = client_for(tracking_uri)
    if isinstance(client, Registry):
        return client
    err_console.print(
        "[yellow]this client has no model registry: rollbacks and audit events are off[/yellow]"
    )
    return None


def _when(text: str, now: dt.datetime) -> dt.datetime:
    from shipyard.monitoring._log import to_utc

    value = text.strip().lower()
    units = {"m": "minutes", "h": "hours", "d": "days"}
    if is_decimal(value[:-1]) and value[-1:] in units:
        return now - dt.timedelta(**{units[value[-1]]: int(value[:-1])})
    found = to_utc(text)
    assert found is not None
    return found


def _read_table(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise InvalidParameter(f"{str(path)!r} does not exist")
    if path.suffix.lower() == ".csv":
        return pd.read_csv(path, dtype={"request_id": str})
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise InvalidParameter(f"{str(path)!r} is not a Parquet or CSV file: {exc}") from None


def _summary(found: dict[str, Any]) -> Table:
    table = Table(
        "version", "windows", "rows", "drifted windows", "drifted columns (period)",
        "p99 ms (period)", "error rate", title=f"{found['model']}: {found['since']} to "
        f"{found['until']}", title_justify="left",
    )  # fmt: skip
    for section in found["versions"]:
        windows = section["windows"]
        overall = section["overall"] or {}
        drift = overall.get("drift") or {}
        ops = overall.get("operations") or {}
        table.add_row(
            section["version"],
            str(len(windows)),
            str(sum(w["rows"] for w in windows)),
            str(sum(1 for w in windows if w["drift"] and w["drift"]["dataset_drift"])),
            ", ".join(drift.get("drifted_columns", [])) or "-",
            _num(ops.get("latency_p99_ms")),
            _num(ops.get("error_rate")),
        )
    return table


def _print_run(summary: dict[str, Any]) -> None:
    table = Table("alert", "version", "firing", "latest window", "value", title_justify="left")
    table.title = f"{summary['model']} at {summary['evaluated_at']}"
    for row in summary["alerts"]:
        latest = row["latest"] or {}
        table.add_row(
            row["alert"],
            row["version"],
            "[red]yes[/red]" if row["firing"] else "no",
            str(latest.get("start", "-")),
            _num(latest.get("value")),
        )
    console.print(table)
    for action in summary["actions"]:
        color = "green" if action["status"] == "done" else "red"
        detail = json.dumps(action.get("result") or action.get("error"))
        console.print(f"[{color}]{action['action']}[/{color}] ({action['type']}): {detail}")
    for closed in summary["closed"]:
        console.print(f"incident {closed} closed")


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:.4g}"
