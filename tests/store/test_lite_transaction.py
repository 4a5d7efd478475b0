"""SQLite's hot writes run in ``_lite.transaction``: the pooled ``sqlite3`` connection in a
``BEGIN IMMEDIATE`` transaction, without SQLAlchemy's ``Connection``."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from shipyard.entities import Metric
from shipyard.store.sql import SqlStore
from shipyard.store.sql._lite import transaction


@pytest.fixture
def store(tmp_path: Path) -> SqlStore:
    return SqlStore(f"sqlite:///{tmp_path / 't.db'}", str(tmp_path / "a"))


def _count(store: SqlStore, table: str) -> int:
    with store.engine.connect() as conn:
        return int(conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one())


def test_the_block_commits_or_rolls_back_and_returns_the_connection(store: SqlStore) -> None:
    run = store.create_run("0", "u", 1).info.run_id
    with transaction(store.engine) as db:
        assert db.in_transaction
        db.execute("INSERT INTO params VALUES (?, 'a', '1')", (run,))
    assert _count(store, "params") == 1
    with pytest.raises(RuntimeError, match="stop"), transaction(store.engine) as db:
        db.execute("INSERT INTO params VALUES (?, 'b', '2')", (run,))
        raise RuntimeError("stop")
    assert _count(store, "params") == 1
    assert store.engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_a_held_write_lock_is_sqlalchemy_s_operational_error(
    store: SqlStore, tmp_path: Path
) -> None:
    """``BEGIN IMMEDIATE`` waits out the busy timeout and then fails as the transactional
    path's does, so the server maps it the same way; nothing is left checked out."""
    run = store.create_run("0", "u", 1).info.run_id
    other = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with store.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA busy_timeout=50")  # the pool hands this one out next
        with pytest.raises(OperationalError, match="locked"):
            store.log_batch(run, metrics=[Metric("loss", 0.5, 1, 0)])
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert store.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    store.log_batch(run, metrics=[Metric("loss", 0.5, 1, 0)])
    assert _count(store, "metrics") == 1
