"""``shipyard artifacts list|download|upload``: a run's files from the command line.

Large transfers show a progress bar with bytes, speed and time left. It appears on a terminal,
or in any output once a transfer is large enough to be worth watching (a CI log gets one line at
the end); ``--progress/--no-progress`` decides for you. Downloads are size-checked and retried,
and never leave a half file under the final name (see ``shipyard.artifacts``).
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

import typer
from rich.console import Console
from rich.filesize import decimal
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from shipyard.cli._common import TrackingUri, client_for, console, handle_errors
from shipyard.client._artifacts import (
    download_run_artifacts,
    list_run_artifacts,
    log_run_artifact,
    log_run_artifacts,
)

__all__ = ["LARGE_TRANSFER", "TransferBar", "app"]

LARGE_TRANSFER = 64 * 1024 * 1024  # from here a bar shows even when output is not a terminal

app = typer.Typer(help="List, download and upload a run's artifacts.", no_args_is_help=True)

RunId = typer.Option(..., "--run-id", "-r", help="The run whose artifacts to use.")
ShowProgress = typer.Option(
    None,
    "--progress/--no-progress",
    help="Show a progress bar (default: on a terminal, or for transfers over 64 MB).",
)


class TransferBar:
    """A ``TransferProgress`` drawn with rich; decides at ``start`` whether to appear."""

    def __init__(self, out: Console, description: str, show: bool | None) -> None:
        self._console = out
        self._description = description
        self._show = show
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def start(self, total_bytes: int) -> None:
        show = self._show
        if show is None:
            show = self._console.is_terminal or total_bytes >= LARGE_TRANSFER
        if not show:
            return
        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=self._console,
        )
        self._bar.start()
        self._task = self._bar.add_task(self._description, total=total_bytes)

    def advance(self, nbytes: int) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.advance(self._task, nbytes)

    def __enter__(self) -> TransferBar:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()


@app.command("list")
@handle_errors
def list_(
    run_id: str = RunId,
    path: str = typer.Argument("", help="A folder inside the run's artifacts (default: the top)."),
    tracking_uri: str | None = TrackingUri,
) -> None:
    """List the files and folders directly under PATH, with sizes."""
    entries = list_run_artifacts(client_for(tracking_uri), run_id, path)
    if not entries:
        console.print(f"No artifacts under '{path or '/'}' of run {run_id}.")
        return
    table = Table("path", "size")
    for entry in entries:
        size = "" if entry.is_dir else decimal(entry.file_size or 0)
        table.add_row(entry.path + ("/" if entry.is_dir else ""), size)
    console.print(table)


@app.command()
@handle_errors
def download(
    run_id: str = RunId,
    path: str = typer.Argument("", help="A file or folder of the run's artifacts (default: all)."),
    dst: Path = typer.Option(Path("."), "--dst", "-d", help="Local folder to download into."),
    tracking_uri: str | None = TrackingUri,
    progress: bool | None = ShowProgress,
) -> None:
    """Download a file or folder of a run's artifacts to DST/PATH."""
    client = client_for(tracking_uri)
    with TransferBar(console, "Downloading", progress) as bar:
        out = download_run_artifacts(client, run_id, path, dst, progress=bar)
    console.print(f"Downloaded to {out}")


@app.command()
@handle_errors
def upload(
    local_path: Path = typer.Argument(..., exists=True, help="A file or a folder to upload."),
    run_id: str = RunId,
    artifact_path: str | None = typer.Option(
        None, "--artifact-path", "-a", help="Folder inside the run's artifacts to upload into."
    ),
    tracking_uri: str | None = TrackingUri,
    progress: bool | None = ShowProgress,
) -> None:
    """Upload a file, or a folder with its layout, into a run's artifacts."""
    client = client_for(tracking_uri)
    with TransferBar(console, "Uploading", progress) as bar:
        if local_path.is_dir():
            paths = log_run_artifacts(client, run_id, local_path, artifact_path, progress=bar)
        else:
            paths = [log_run_artifact(client, run_id, local_path, artifact_path, progress=bar)]
    console.print(f"Uploaded {len(paths)} file(s) to run {run_id}.")
