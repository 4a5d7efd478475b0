"""``shipyard models describe|download``: look inside a model package, or fetch it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from shipyard.cli._common import TrackingUri, console, handle_errors
from shipyard.models import (
    ColSpec,
    ModelDescription,
    Schema,
    Signature,
    describe_model,
    describe_spec,
    download_model,
)
from shipyard.settings import Settings

app = typer.Typer(help="Describe and download model packages.", no_args_is_help=True)

ModelUri = typer.Argument(
    ..., help="A folder, runs:/<run_id>/<path>, models:/m-<id>, s3://... or mlflow-artifacts:/..."
)


@app.command()
@handle_errors
def describe(uri: str = ModelUri, tracking_uri: str | None = TrackingUri) -> None:
    """Flavors, signature, size, requirements and origin of a model, without loading it."""
    found = describe_model(uri, Settings.from_env(), tracking_uri)
    console.print(_summary(found))
    console.print(_flavors(found.manifest.flavors))
    _print_signature(found.manifest.signature)
    requirements = Table("requirement", title="requirements.txt", title_justify="left")
    for line in found.requirements:
        requirements.add_row(line)
    console.print(requirements)


@app.command()
@handle_errors
def download(
    uri: str = ModelUri,
    output: Path = typer.Option(..., "--output", "-o", help="Folder to create (absent or empty)."),
    tracking_uri: str | None = TrackingUri,
) -> None:
    """Copy a model package to a local folder."""
    path = download_model(uri, output, Settings.from_env(), tracking_uri)
    console.print(f"Downloaded {uri} to {path}")


def _summary(found: ModelDescription) -> Table:
    m = found.manifest
    table = Table("", "", title=f"model {found.uri}", title_justify="left", show_header=False)
    rows = [
        ("model uuid", m.model_uuid),
        ("run id", m.run_id or "-"),
        ("created", f"{m.utc_time_created} UTC" if m.utc_time_created else "-"),
        ("size", _size(m.model_size_bytes)),
        (
            "loader",
            str(m.pyfunc.get("loader_module", "-")) if "python_function" in m.flavors else "-",
        ),
        ("format", f"shipyard {m.format_version}, MLflow layout {m.mlflow_version or '-'}"),
        ("reference profile", f"{found.profile_rows} rows" if found.profile_rows else "none"),
    ]
    for key, value in rows:
        table.add_row(key, value)
    return table


def _flavors(flavors: dict[str, dict[str, Any]]) -> Table:
    table = Table("flavor", "details", title="flavors", title_justify="left")
    for name, conf in flavors.items():
        details = ", ".join(f"{k}={v}" for k, v in conf.items() if _scalar(v) and k != "env")
        table.add_row(name, details)
    return table


def _print_signature(signature: Signature | None) -> None:
    if signature is None:
        console.print("signature: none")
        return
    for title, schema in (("inputs", signature.inputs), ("outputs", signature.outputs)):
        if schema is not None:
            console.print(_schema_table(f"signature {title}", schema))
    if signature.params:
        params = Table("param", "type", "default", title="params", title_justify="left")
        for p in signature.params:
            params.add_row(
                p.name, p.type if p.shape is None else f"list of {p.type}", repr(p.default)
            )
        console.print(params)


def _schema_table(title: str, schema: Schema) -> Table:
    table = Table("name", "type", "required", title=title, title_justify="left")
    for spec in schema.specs:
        required = "yes" if not isinstance(spec, ColSpec) or spec.required else "no"
        table.add_row(spec.name or "-", describe_spec(spec), required)
    return table


def _scalar(value: Any) -> bool:
    return value is not None and isinstance(value, str | int | float | bool)


def _size(nbytes: int | None) -> str:
    if nbytes is None:
        return "-"
    size = float(nbytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{nbytes} B"
