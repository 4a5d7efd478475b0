"""Store fixtures: every contract test runs on SQLite and on a real PostgreSQL server.

PostgreSQL comes from ``SHIPYARD_TEST_POSTGRES_URI`` (``.ci/run`` starts one), or is started here
from the machine's server binaries; without either, the PostgreSQL cases are skipped, unless
``SHIPYARD_TEST_REQUIRE_POSTGRES=1`` (CI), where they fail instead.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from shipyard.store.sql import SqlStore
from shipyard.tracking import TrackingService

ROOT = Path(__file__).resolve().parents[2]


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


@pytest.fixture
def postgres_uri(postgres_admin_uri: str) -> Iterator[str]:
    """A brand-new database on the shared server, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_admin_uri, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    base = postgres_admin_uri.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


class Clock:
    """An injected clock: tests get distinct, ordered timestamps without sleeping."""

    def __init__(self, start: int = 1_700_000_000_000) -> None:
        self.now = start

    def __call__(self) -> int:
        self.now += 1
        return self.now


@pytest.fixture(params=["sqlite", "postgres"])
def db_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("postgres_uri"))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sql_store(db_uri: str, tmp_path: Path, clock: Clock) -> Iterator[SqlStore]:
    store = SqlStore(db_uri, str(tmp_path / "artifacts"), clock=clock)
    yield store
    store.engine.dispose()


@pytest.fixture
def service(sql_store: SqlStore) -> TrackingService:
    return TrackingService(sql_store)
