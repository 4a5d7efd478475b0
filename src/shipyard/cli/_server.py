"""``shipyard server`` (flags as ``mlflow server``) and ``shipyard quickstart``."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import typer

from shipyard.cli._common import console, err_console
from shipyard.settings import DEFAULT_DATA_DIR, Settings


def server(
    backend_store_uri: str | None = typer.Option(
        None, help="Database URI: sqlite:///path.db or postgresql://user:pw@host/db."
    ),
    default_artifact_root: str | None = typer.Option(
        None, help="Artifact root handed to clients when artifacts are not served."
    ),
    artifacts_destination: str | None = typer.Option(
        None, help="Where the server itself stores served artifacts (folder or s3://)."
    ),
    serve_artifacts: bool = typer.Option(
        True, help="Proxy artifacts through the server (mlflow-artifacts: URIs)."
    ),
    host: str = typer.Option("127.0.0.1", "--host", "-h"),
    port: int = typer.Option(5000, "--port", "-p"),
    workers: int = typer.Option(1, "--workers", "-w", help="Worker processes."),
    inference_log: str | None = typer.Option(
        None, help="Inference log (folder or s3://) to serve monitoring reports and labels from."
    ),
    monitoring_dir: str | None = typer.Option(
        None, help="Where monitoring keeps labels, profiles and incidents."
    ),
) -> None:
    """Run the tracking server (MLflow REST API 2.0, the registry, gates and monitoring)."""
    from dataclasses import replace

    from shipyard.server._run import run_server

    settings = Settings.from_env()
    settings = replace(
        settings,
        inference_log=inference_log or settings.inference_log,
        monitoring_dir=monitoring_dir or settings.monitoring_dir,
    )
    run_server(
        settings,
        host=host,
        port=port,
        workers=workers,
        backend_store_uri=backend_store_uri or settings.backend_store_uri,
        default_artifact_root=artifacts_destination
        or default_artifact_root
        or settings.artifact_root,
        serve_artifacts=serve_artifacts,
    )


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server did not answer at {url} within {timeout:.0f}s")


def quickstart(
    data: Path = typer.Option(DEFAULT_DATA_DIR, help="Folder for the database and artifacts."),
    host: str = typer.Option("127.0.0.1", "--host", "-h"),
    port: int = typer.Option(5000, "--port", "-p"),
    example: bool = typer.Option(True, help="Log the example runs into the server."),
    keep_running: bool = typer.Option(True, help="Keep serving after the example is logged."),
) -> None:
    """Start a server on ./shipyard-data and log a real example lifecycle into it."""
    data.mkdir(parents=True, exist_ok=True)
    url = f"http://{host}:{port}"
    cmd = [
        sys.executable, "-m", "shipyard.cli", "server",
        "--backend-store-uri", f"sqlite:///{(data / 'shipyard.db').resolve()}",
        "--artifacts-destination", str((data / "artifacts").resolve()),
        "--host", host, "--port", str(port),
    ]  # fmt: skip
    proc = subprocess.Popen(cmd)
    try:
        _wait_healthy(url, proc)
        if example:
            from shipyard.examples.wine import EXPERIMENT, run_example

            with console.status("Training the wine example and logging it..."):
                run_ids = run_example(url)
            console.print(f"Logged {len(run_ids)} runs to experiment [bold]{EXPERIMENT}[/bold].")
        console.print(f"Shipyard is serving at [bold]{url}[/bold]; try:")
        snippet = "import mlflow; print(mlflow.search_runs(search_all_experiments=True))"
        console.print(f"  MLFLOW_TRACKING_URI={url} python -c '{snippet}'")
        console.print(f"  shipyard runs search -t {url} -o 'metrics.test_accuracy DESC'")
        if keep_running:
            console.print("Press Ctrl-C to stop.")
            proc.wait()
    except KeyboardInterrupt:
        pass
    except RuntimeError as exc:
        err_console.print(f"[red]error[/red]: {exc}")
        raise typer.Exit(1) from None
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=15)
