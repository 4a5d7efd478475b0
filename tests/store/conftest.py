"""Store fixtures: every contract test runs on SQLite and on a real PostgreSQL server (the
``postgres_uri`` fixture of ``tests/conftest.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard.store.sql import SqlStore
from shipyard.tracking import TrackingService


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


@pytest.fixture
def pg_store(postgres_uri: str, tmp_path: Path) -> Iterator[SqlStore]:
    """A store on PostgreSQL alone (tests of PostgreSQL's own paths)."""
    store = SqlStore(postgres_uri, str(tmp_path / "artifacts"))
    yield store
    store.dispose()
