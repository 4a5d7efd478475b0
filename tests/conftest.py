"""Shared fixtures: an in-process tracking service, and real tracking servers in subprocesses."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from shipyard.store.sql import SqlStore
from shipyard.tracking import TrackingService

HOST = "127.0.0.1"
_START_TIMEOUT = 30.0


@pytest.fixture
def tmp_store(tmp_path: Path) -> TrackingService:
    """A tracking service over a fresh SQLite database in the test's temp folder."""
    store = SqlStore(f"sqlite:///{tmp_path / 'tracking.db'}", str(tmp_path / "artifacts"))
    return TrackingService(store)


# -- real servers -----------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _healthy(port: int) -> bool:
    conn = http.client.HTTPConnection(HOST, port, timeout=1)
    try:
        conn.request("GET", "/health")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


@dataclass
class ServerProcess:
    """A ``python -m shipyard.server`` child on a loopback port, with its log file."""

    url: str
    port: int
    db_uri: str
    artifact_root: Path
    proc: subprocess.Popen[bytes]
    log: Path

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=15)

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers, no flush, as in a power cut of the process."""
        self.stop(signal.SIGKILL)


def start_server(
    folder: Path,
    *,
    db_uri: str | None = None,
    workers: int = 1,
    serve_artifacts: bool = True,
    port: int | None = None,
) -> ServerProcess:
    """Start a server on ``folder``'s database (created if new) and wait until it answers."""
    folder.mkdir(parents=True, exist_ok=True)
    db_uri = db_uri or f"sqlite:///{folder / 'tracking.db'}"
    artifacts = folder / "artifacts"
    port = port or free_port()
    log = folder / f"server-{port}.log"
    cmd = [
        sys.executable, "-m", "shipyard.server", "--host", HOST, "--port", str(port),
        "--workers", str(workers), "--backend-store-uri", db_uri,
        "--default-artifact-root", str(artifacts),
        "--serve-artifacts" if serve_artifacts else "--no-serve-artifacts",
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "SHIPYARD_"))}
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)  # fmt: skip # noqa: E501
    server = ServerProcess(f"http://{HOST}:{port}", port, db_uri, artifacts, proc, log)
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()}")
        if _healthy(port):
            return server
        time.sleep(0.05)
    server.kill()
    raise RuntimeError(f"server did not start in {_START_TIMEOUT}s:\n{log.read_text()}")


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start servers on demand (``server_factory(folder, workers=2)``); all stop at teardown."""
    started: list[ServerProcess] = []

    def start(folder: Path | None = None, **kwargs: object) -> ServerProcess:
        server = start_server(folder or tmp_path / "server", **kwargs)  # type: ignore[arg-type]
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of one real server (SQLite, serving artifacts) shared by the whole session."""
    server = start_server(tmp_path_factory.mktemp("live-server"))
    yield server.url
    server.stop()
