"""The ``shipyard`` command: one Typer app, one module per command group."""

from __future__ import annotations

import typer

from shipyard._version import __version__
from shipyard.cli import (
    _admin,
    _artifacts,
    _experiments,
    _models,
    _monitor,
    _projects,
    _runs,
    _server,
)

app = typer.Typer(
    name="shipyard",
    help="Shipyard: track, package, register, gate, deploy and monitor ML models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(_experiments.app, name="experiments")
app.add_typer(_runs.app, name="runs")
app.add_typer(_artifacts.app, name="artifacts")
app.add_typer(_models.app, name="models")
app.add_typer(_monitor.app, name="monitor")
app.add_typer(_admin.db_app, name="db")
app.command("gc")(_admin.gc)
app.command("server")(_server.server)
app.command("quickstart")(_server.quickstart)
app.command("run")(_projects.run_command)
app.command("reproduce")(_projects.reproduce_command)


def _version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    pass


def main() -> None:
    app()
