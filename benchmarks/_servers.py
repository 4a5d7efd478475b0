"""Start, health-check and stop the tracking servers under test (and a throwaway PostgreSQL).

Everything listens on 127.0.0.1 only. Each server runs in its own process group so that
worker processes (gunicorn/uvicorn) die with it.
"""

from __future__ import annotations

import contextlib
import glob
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
VENVS_DIR = BENCH_DIR / ".venvs"
WORK_DIR = BENCH_DIR / ".work"
HOST = "127.0.0.1"

SERVERS = ("shipyard", "mlflow", "fasttrackml")
LABELS = {"shipyard": "Shipyard", "mlflow": "MLflow", "fasttrackml": "FastTrackML"}

# What each reference venv gets; psycopg2 lets MLflow talk to PostgreSQL.
REFERENCE_PACKAGES = {
    # SQLAlchemy 2.1 maps postgresql:// to psycopg 3, so MLflow needs psycopg, not psycopg2.
    "mlflow": ["mlflow==3.17.*", "psycopg[binary]"],
    "fasttrackml": ["fasttrackml==0.6.0"],
}
REFERENCE_EXES = {"mlflow": "mlflow", "fasttrackml": "fml"}


class ServerError(RuntimeError):
    """A server could not be installed, started or reached."""


# --------------------------------------------------------------------------- executables


def shipyard_exe() -> Path | None:
    """The `shipyard` console script of the project venv, else one on PATH, else None."""
    candidate = REPO_DIR / ".venv" / "bin" / "shipyard"
    if candidate.exists():
        return candidate
    found = shutil.which("shipyard")
    return Path(found) if found else None


def reference_exe(name: str, install: bool) -> Path | None:
    """Path of the reference server's executable, creating its venv when allowed."""
    venv = VENVS_DIR / name
    exe = venv / "bin" / REFERENCE_EXES[name]
    packages = REFERENCE_PACKAGES[name]
    stamp = venv / "bench-packages.txt"
    current = exe.exists() and stamp.exists() and stamp.read_text() == "\n".join(packages)
    if install and not current:
        _install_venv(venv, packages)
        stamp.write_text("\n".join(packages))
    return exe if exe.exists() else None


def _install_venv(venv: Path, packages: list[str]) -> None:
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    log = WORK_DIR / f"install-{venv.name}.log"
    print(f"[setup] {venv.relative_to(REPO_DIR)}: pip install {' '.join(packages)} ...", flush=True)
    with log.open("w") as out:
        if not (venv / "bin" / "pip").exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, stdout=out)
        pip = [str(venv / "bin" / "pip"), "install", "-q", *packages]
        done = subprocess.run(pip, stdout=out, stderr=subprocess.STDOUT, timeout=1800)
    if done.returncode != 0:
        raise ServerError(f"pip install into {venv} failed; see {log}")


def executable(name: str, install: bool = True) -> Path | None:
    if name == "shipyard":
        return shipyard_exe()
    return reference_exe(name, install)


# --------------------------------------------------------------------------- backends


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class Backend:
    """Where one server keeps its data: a SQLite file or a database in the PG cluster."""

    kind: str  # "sqlite" | "postgres"
    sqlite_path: Path | None = None
    pg_port: int = 0
    pg_db: str = ""

    def uri_for(self, server: str) -> str:
        if self.kind == "sqlite":
            assert self.sqlite_path is not None
            # SQLAlchemy wants sqlite:////abs/path; FastTrackML reads sqlite:///abs/path.
            slashes = "//" if server == "fasttrackml" else "///"
            return f"sqlite:{slashes}{self.sqlite_path}"
        scheme = {
            "shipyard": "postgresql+psycopg",
            "mlflow": "postgresql",
            "fasttrackml": "postgres",
        }[server]
        suffix = "?sslmode=disable" if server == "fasttrackml" else ""
        return f"{scheme}://postgres@{HOST}:{self.pg_port}/{self.pg_db}{suffix}"

    def analyze(self) -> None:
        """Refresh PostgreSQL's planner statistics, as autovacuum does within a minute or so of
        a bulk load; without it, a search run right after seeding is planned for empty tables.
        Done for every server alike (SQLite has no such step)."""
        if self.kind == "postgres":
            psql = [_pg_bin("psql"), "-h", HOST, "-p", str(self.pg_port), "-U", "postgres"]
            subprocess.run([*psql, "-d", self.pg_db, "-qc", "ANALYZE"], check=True)


# --------------------------------------------------------------------------- PostgreSQL


def _pg_bin(tool: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"))
    if found:
        return found[-1]
    on_path = shutil.which(tool)
    if not on_path:
        raise ServerError(f"PostgreSQL tool {tool!r} not found (apt-get install postgresql)")
    return on_path


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


@dataclass
class PgCluster:
    """A throwaway PostgreSQL cluster under benchmarks/.work/pg on a free loopback port."""

    root: Path = field(default_factory=lambda: WORK_DIR / "pg")
    port: int = 0

    @property
    def data(self) -> Path:
        return self.root / "data"

    def start(self) -> None:
        if self.root.exists():
            shutil.rmtree(self.root)
        (self.root / "sock").mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            shutil.chown(self.root / "sock", "postgres", "postgres")
        initdb = [_pg_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres"]
        self._run([*initdb, "-E", "UTF8", "--no-sync"])
        self.port = free_port()
        opts = f"-p {self.port} -k {self.root / 'sock'} -c listen_addresses={HOST}"
        ctl = [_pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.root / "pg.log")]
        self._run([*ctl, "-o", opts, "-w", "-t", "60", "start"])

    def create_db(self, name: str) -> Backend:
        self._run([_pg_bin("createdb"), "-h", HOST, "-p", str(self.port), "-U", "postgres", name])
        return Backend(kind="postgres", pg_port=self.port, pg_db=name)

    def stop(self) -> None:
        if not self.data.exists():
            return
        ctl = [_pg_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop"]
        subprocess.run(_as_postgres(ctl), capture_output=True, timeout=120, check=False)

    def _run(self, cmd: list[str]) -> None:
        done = subprocess.run(_as_postgres(cmd), capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise ServerError(f"{cmd[0]} failed: {done.stderr.strip() or done.stdout.strip()}")


@contextlib.contextmanager
def pg_cluster() -> Iterator[PgCluster]:
    cluster = PgCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


# --------------------------------------------------------------------------- servers


def server_command(
    name: str, exe: Path, backend_uri: str, artifacts: Path, port: int, workers: int | None
) -> list[str]:
    """Command line that starts `name` on HOST:port."""
    if name == "fasttrackml":
        return [
            str(exe), "server", "--log-level", "warn",
            "--listen-address", f"{HOST}:{port}",
            "--database-uri", backend_uri,
            "--default-artifact-root", str(artifacts),
        ]  # fmt: skip
    cmd = [
        str(exe), "server",
        "--backend-store-uri", backend_uri,
        "--default-artifact-root", str(artifacts),
        "--host", HOST,
        "--port", str(port),
    ]  # fmt: skip
    if workers is not None:
        cmd += ["--workers", str(workers)]
    return cmd


def server_env() -> dict[str, str]:
    env = dict(os.environ)
    # Keep the servers quiet and offline; none of these change the request path.
    env.setdefault("MLFLOW_ENABLE_TELEMETRY", "false")
    env.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    env.setdefault("DO_NOT_TRACK", "true")
    return env


@dataclass
class RunningServer:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path

    def alive(self) -> bool:
        return self.proc.poll() is None


def _healthy(port: int) -> bool:
    conn = http.client.HTTPConnection(HOST, port, timeout=5)
    try:
        conn.request("GET", "/api/2.0/mlflow/experiments/search?max_results=1")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def wait_healthy(server: RunningServer, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server.alive():
            raise ServerError(f"{server.name} exited early; see {server.log_path}")
        if _healthy(server.port):
            return
        time.sleep(0.25)
    raise ServerError(f"{server.name} not healthy after {timeout:.0f}s; see {server.log_path}")


def stop_server(server: RunningServer) -> None:
    """SIGTERM the whole process group, then SIGKILL whatever is left."""
    for sig, grace in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.proc.wait(timeout=grace)
            return


@contextlib.contextmanager
def run_server(
    name: str, exe: Path, backend: Backend, workdir: Path, workers: int | None = None
) -> Iterator[RunningServer]:
    """Start `name` against a fresh backend, wait until it answers, always stop it."""
    workdir.mkdir(parents=True, exist_ok=True)
    artifacts = workdir / "artifacts"
    artifacts.mkdir(exist_ok=True)
    port = free_port()
    cmd = server_command(name, exe, backend.uri_for(name), artifacts, port, workers)
    log_path = workdir / "server.log"
    with log_path.open("wb") as log:
        log.write((" ".join(cmd) + "\n").encode())
        log.flush()
        proc = subprocess.Popen(
            cmd, cwd=workdir, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, env=server_env(), start_new_session=True,
        )  # fmt: skip
    server = RunningServer(name=name, port=port, proc=proc, log_path=log_path)
    try:
        wait_healthy(server)
        yield server
    finally:
        stop_server(server)
