"""Shared fixtures: an in-process tracking service, a real PostgreSQL server, real tracking
servers in subprocesses (on SQLite or PostgreSQL), a real S3-protocol server (``moto_server``)
in a subprocess for the S3 artifact repository, and ``serve(app)``: an ASGI app on a loopback
port in a thread of this process."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import uvicorn
from starlette.types import ASGIApp

from shipyard.settings import S3Settings
from shipyard.store.sql import SqlStore
from shipyard.tracking import TrackingService

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
_START_TIMEOUT = 30.0


@pytest.fixture
def tmp_store(tmp_path: Path) -> TrackingService:
    """A tracking service over a fresh SQLite database in the test's temp folder."""
    store = SqlStore(f"sqlite:///{tmp_path / 'tracking.db'}", str(tmp_path / "artifacts"))
    return TrackingService(store)


# -- a real PostgreSQL server -------------------------------------------------------------------
# From ``SHIPYARD_TEST_POSTGRES_URI`` (``.ci/run`` starts one), or started here from the machine's
# server binaries; without either, the PostgreSQL cases are skipped, unless
# ``SHIPYARD_TEST_REQUIRE_POSTGRES=1`` (CI), where they fail instead.
def _start_postgres() -> tuple[str, str] | None:
    """(admin URI, stop command) of a server started from the machine's binaries."""
    if not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        return None
    out = subprocess.run(
        ["bash", str(ROOT / ".ci" / "postgres.sh")],
        capture_output=True,
        text=True,
        env={**os.environ, "SHIPYARD_PG_PORT": str(56000 + os.getpid() % 1000)},
        check=False,
    )
    lines = out.stdout.strip().splitlines()
    return (lines[0], lines[1]) if out.returncode == 0 and len(lines) == 2 else None


@pytest.fixture(scope="session")
def postgres_admin_uri() -> Iterator[str]:
    uri = os.environ.get("SHIPYARD_TEST_POSTGRES_URI")
    if uri:
        yield uri
        return
    started = _start_postgres()
    if started is None:
        if os.environ.get("SHIPYARD_TEST_REQUIRE_POSTGRES") == "1":
            pytest.fail("PostgreSQL is required (SHIPYARD_TEST_REQUIRE_POSTGRES=1) but none runs")
        pytest.skip("no PostgreSQL server available")
    yield started[0]
    subprocess.run(started[1].split(), capture_output=True, check=False)


@contextlib.contextmanager
def _new_database(admin_uri: str) -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_uri, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    base = admin_uri.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def postgres_uri(postgres_admin_uri: str) -> Iterator[str]:
    """A brand-new database on the shared server, dropped afterwards."""
    with _new_database(postgres_admin_uri) as uri:
        yield uri


# -- real servers -----------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _healthy(port: int, path: str = "/health") -> bool:
    conn = http.client.HTTPConnection(HOST, port, timeout=1)
    try:
        conn.request("GET", path)
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
    artifact_root: str | None = None,
    env: Mapping[str, str] | None = None,
) -> ServerProcess:
    """Start a server on ``folder``'s database (created if new) and wait until it answers.

    ``artifact_root`` (a folder or ``s3://`` URI) defaults to ``folder/artifacts``; ``env`` adds
    variables (S3 endpoint and credentials) to the server's otherwise clean environment.
    """
    folder.mkdir(parents=True, exist_ok=True)
    db_uri = db_uri or f"sqlite:///{folder / 'tracking.db'}"
    artifacts = folder / "artifacts"
    port = port or free_port()
    log = folder / f"server-{port}.log"
    cmd = [
        sys.executable, "-m", "shipyard.server", "--host", HOST, "--port", str(port),
        "--workers", str(workers), "--backend-store-uri", db_uri,
        "--default-artifact-root", artifact_root or str(artifacts),
        "--serve-artifacts" if serve_artifacts else "--no-serve-artifacts",
    ]  # fmt: skip
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "SHIPYARD_"))},
        **(env or {}),
    }
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


@pytest.fixture(scope="session")
def pg_live_server(
    postgres_admin_uri: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """``live_server`` on a database of its own on the PostgreSQL server."""
    with _new_database(postgres_admin_uri) as db_uri:
        server = start_server(tmp_path_factory.mktemp("pg-live-server"), db_uri=db_uri)
        yield server.url
        server.stop()


# -- a real S3-protocol server ----------------------------------------------------------------
@dataclass(frozen=True)
class MotoServer:
    """``moto_server`` on a loopback port; ``new_bucket()`` gives each test a bucket of its own."""

    endpoint_url: str
    settings: S3Settings

    @property
    def env(self) -> dict[str, str]:
        """What a server or an MLflow client process needs to reach this S3."""
        return {
            "SHIPYARD_S3_ENDPOINT_URL": self.endpoint_url,
            "MLFLOW_S3_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def client(self) -> Any:
        from shipyard.artifacts._s3_io import s3_client

        return s3_client(self.settings)

    def new_bucket(self) -> str:
        name = f"test-{uuid.uuid4().hex[:16]}"
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str) -> dict[str, bytes]:
        """Every object in ``bucket`` with its content, to prove what a request touched."""
        client = self.client()
        found: dict[str, bytes] = {}
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for item in page.get("Contents", []):
                body = client.get_object(Bucket=bucket, Key=item["Key"])["Body"]
                found[item["Key"]] = body.read()
        return found


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """A real ``moto_server`` process (the S3 wire protocol over HTTP), not an in-process mock."""
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    cmd = [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + _START_TIMEOUT
        while not _healthy(port, "/"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"moto_server did not start:\n{log.read_text()}")
            time.sleep(0.05)
        url = f"http://{HOST}:{port}"
        settings = S3Settings(url, "us-east-1", "testing", "testing")
        yield MotoServer(url, settings)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)


@dataclass(frozen=True)
class S3Served:
    """A live server whose ``--artifacts-destination`` is ``s3://bucket/served`` on moto."""

    url: str
    bucket: str


@pytest.fixture(scope="session")
def s3_live_server(
    tmp_path_factory: pytest.TempPathFactory, moto_server: MotoServer
) -> Iterator[S3Served]:
    bucket = moto_server.new_bucket()
    folder = tmp_path_factory.mktemp("s3-live-server")
    server = start_server(folder, artifact_root=f"s3://{bucket}/served", env=moto_server.env)
    yield S3Served(server.url, bucket)
    server.stop()


# -- an ASGI app served in a thread: for clients (MLflow's) that need a real socket ---------------
@contextlib.contextmanager
def serving(app: ASGIApp) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def serve() -> Iterator[Callable[[ASGIApp], str]]:
    """``serve(app)`` starts ``app`` on a loopback port and returns its URL; stopped at teardown."""
    with contextlib.ExitStack() as stack:
        yield lambda app: stack.enter_context(serving(app))
