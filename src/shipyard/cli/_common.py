"""What every command shares: the console, the settings, and turning errors into exit codes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import typer
from rich.console import Console

from shipyard.client import Client
from shipyard.errors import ShipyardError
from shipyard.settings import Settings

__all__ = ["TrackingUri", "client_for", "console", "err_console", "fmt_time", "handle_errors"]

console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])

TrackingUri = typer.Option(
    None,
    "--tracking-uri",
    "-t",
    help="Server URL, database URI or folder (default: $SHIPYARD_TRACKING_URI or ./shipyard-data).",
)


def handle_errors(fn: F) -> F:
    """Print a Shipyard error as one red line and exit 1, instead of a traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ShipyardError as exc:
            err_console.print(f"[red]error[/red] ({exc.code}): {exc.message}")
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def client_for(tracking_uri: str | None) -> Client:
    return Client(tracking_uri, Settings.from_env())


def fmt_time(ms: int | None) -> str:
    if ms is None:
        return "-"
    return dt.datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S")
