"""``shipyard gate run|compare``: promotion gates from the command line.

Exit codes are for CI: 0 the gate passed, 1 it failed (a check did not hold), 2 it could not
run (a usage error: bad policy, missing data, unknown model ...).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from shipyard.cli._common import TrackingUri, console, err_console
from shipyard.errors import ShipyardError

if TYPE_CHECKING:  # imported in the commands: scikit-learn's metrics cost a second at start-up
    from shipyard import gates

app = typer.Typer(
    help="Promotion gates: check a model version against a policy, then promote it (or not).",
    no_args_is_help=True,
)

EXIT_PASSED, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
F = TypeVar("F", bound=Callable[..., Any])

PolicyOpt = typer.Option(..., "--policy", "-p", help="The gate policy (gates.yaml).")
DataOpt = typer.Option(
    None, "--data", "-d", help="Evaluation data, .parquet or .csv (default: the policy's data)."
)
BaselineOpt = typer.Option(
    None, "--baseline", help="Model to compare with (default: the version holding the alias)."
)
TrustedOpt = typer.Option(
    False, "--trusted", help="Allow model formats that run code when loaded (pickle)."
)


def _usage_errors(fn: F) -> F:
    """A Shipyard error means the gate could not run: one red line and exit code 2."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ShipyardError as exc:
            err_console.print(f"[red]error[/red] ({exc.code}): {exc.message}")
            raise typer.Exit(EXIT_USAGE) from None

    return wrapper  # type: ignore[return-value]


@contextmanager
def _progress(total: int) -> Iterator[Callable[[gates.CheckResult], None]]:
    bar = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err_console, transient=True,
    )  # fmt: skip
    with bar:
        task = bar.add_task("checks", total=total)

        def advance(result: gates.CheckResult) -> None:
            mark = "[green]passed[/green]" if result.passed else "[red]FAILED[/red]"
            bar.console.print(f"{mark} {result.name} ({result.seconds:.2f}s)")
            bar.advance(task)

        yield advance


def _checks_table(report: gates.GateReport) -> Table:
    table = Table(
        "check", "result", "evidence", title=f"gate {report.candidate}", title_justify="left"
    )
    for check in report.checks:
        word = "[green]passed[/green]" if check.passed else "[red]FAILED[/red]"
        if not check.blocking:
            word += " (advisory)"
        table.add_row(check.name, word, check.message.split(": ", 2)[-1])
    return table


@app.command("run")
@_usage_errors
def run_gate(
    model_uri: str = typer.Argument(
        ..., help="models:/<name>/<version>, a folder or any model URI."
    ),
    policy: Path = PolicyOpt,
    data: Path | None = DataOpt,
    baseline: str | None = BaselineOpt,
    promote: bool = typer.Option(
        False, "--promote", help="Move the policy's alias to this version if every check passes."
    ),
    reason: str | None = typer.Option(None, "--reason", help="Why: kept in the audit trail."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Also write report.json and report.html in this folder."
    ),
    trusted: bool = TrustedOpt,
    tracking_uri: str | None = TrackingUri,
) -> None:
    """Evaluate every check of the policy; exit 0 on pass, 1 on fail, 2 on a usage error."""
    from shipyard import gates

    rules = gates.load_policy(policy)
    with _progress(len(rules.checks)) as advance:
        report = gates.run(
            model_uri, policy, data, baseline=baseline, promote=promote, reason=reason,
            tracking_uri=tracking_uri, output_dir=output, trusted=trusted, on_result=advance,
        )  # fmt: skip
    console.print(_checks_table(report))
    for note in report.notes:
        console.print(f"[yellow]note[/yellow]: {note}")
    for artifact in report.artifacts:
        console.print(f"report: {artifact}")
    if output is not None:
        console.print(f"report: {output / gates.REPORT_HTML}")
    if report.passed:
        moved = (
            f"; alias {report.promote_to!r} -> version {report.version}" if report.promoted else ""
        )
        console.print(f"[green]PASSED[/green]: all blocking checks passed{moved}")
        raise typer.Exit(EXIT_PASSED)
    console.print(
        f"[red]FAILED[/red]: {len(report.failures)} of {len(report.checks)} checks failed"
    )
    raise typer.Exit(EXIT_FAILED)


@app.command("compare")
@_usage_errors
def compare_gate(
    model_uris: list[str] = typer.Argument(
        ..., help="Two or more candidates (models:/name/4 ...)."
    ),
    policy: Path = PolicyOpt,
    data: Path | None = DataOpt,
    baseline: str | None = BaselineOpt,
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Also write scorecard.json and scorecard.html in this folder."
    ),
    trusted: bool = TrustedOpt,
    tracking_uri: str | None = TrackingUri,
) -> None:
    """Rank candidates side by side on every check of the policy (nothing is promoted)."""
    from shipyard import gates

    with console.status(f"Gating {len(model_uris)} candidates ..."):
        card = gates.compare(
            model_uris, policy, data, baseline=baseline, tracking_uri=tracking_uri, trusted=trusted
        )
    ranking = Table(*card.summary[0].keys(), title="ranking", title_justify="left")
    for row in card.summary:
        ranking.add_row(*(str(v) for v in row.values()))
    console.print(ranking)
    checks = Table("check", *card.ranking, title="checks", title_justify="left")
    for row in card.rows:
        checks.add_row(row["check"], *(row[name] for name in card.ranking))
    console.print(checks)
    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
        (output / "scorecard.json").write_text(json.dumps(card.to_dict(), indent=2, default=str))
        (output / "scorecard.html").write_text(card.to_html())
        console.print(f"scorecard: {output / 'scorecard.html'}")
