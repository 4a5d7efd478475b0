"""The ``shipyard`` command: one Typer app, one module per command group."""

from __future__ import annotations

import typer

from shipyard._version import __version__
from shipyard.cli import (
    _admin,
    _artifacts,
    _audit,
    _experiments,
    _gate,
    _models,
    _monitor,
    _projects,
    _registry,
    _runs,
    _serve,
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
for _name, _command in (
    ("list", _registry.list_models),
    ("show", _registry.show),
    ("versions", _registry.versions),
    ("register", _registry.register),
    ("alias", _registry.alias),
    ("stage", _registry.stage),
    ("protect", _registry.protect),
    ("requests", _registry.requests),
    ("approve", _registry.approve),
    ("reject", _registry.reject),
    ("rollback", _registry.rollback),
    ("lineage", _registry.lineage),
):
    _models.app.command(_name)(_command)
app.add_typer(_audit.audit_app, name="audit")
app.add_typer(_audit.webhooks_app, name="webhooks")
_models.app.command("serve")(_serve.serve)
_models.app.command("predict")(_serve.predict)
_models.app.command("build-docker")(_serve.build_docker)
app.add_typer(_monitor.app, name="monitor")
app.add_typer(_gate.app, name="gate")
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
