"""PostgreSQL's hot writes run on a driver cursor (``_pg.statement``): one pooled connection in
autocommit, the driver's errors raised as SQLAlchemy's, a dead connection dropped."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

from shipyard.entities import Metric
from shipyard.store.sql import SqlStore, run_on_loop
from shipyard.store.sql._pg import statement


def _pid(cur: Any) -> int:
    cur.execute("SELECT pg_backend_pid()")
    return int(cur.fetchone()[0])


def _experiment_names(uri: str) -> list[str]:
    other = sa.create_engine(uri)
    with other.connect() as conn:
        names = conn.exec_driver_sql("SELECT name FROM experiments ORDER BY name").scalars()
        found = list(names)
    other.dispose()
    return found


def test_each_statement_commits_and_the_connection_goes_back_as_it_was(
    pg_store: SqlStore, postgres_uri: str
) -> None:
    engine = pg_store.engine
    insert = (
        "INSERT INTO experiments (name, artifact_location, lifecycle_stage) "
        "VALUES (%(name)s, '', 'active')"
    )
    with statement(engine) as cur:
        cur.execute(insert, {"name": "seen-at-once"})
        assert "seen-at-once" in _experiment_names(postgres_uri)  # committed, block still open
        pid = _pid(cur)
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    with engine.connect() as conn:  # the same pooled connection, out of autocommit again
        assert conn.connection.dbapi_connection.autocommit is False  # type: ignore[union-attr]
        assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one() == pid


def test_driver_errors_are_sqlalchemy_s_and_leave_the_connection_usable(
    pg_store: SqlStore,
) -> None:
    engine = pg_store.engine
    with pytest.raises(DataError, match="division by zero"), statement(engine) as cur:
        pid = _pid(cur)
        cur.execute("SELECT 1 / 0")
    run_id = pg_store.create_run("0", "u", 1).info.run_id
    point = "INSERT INTO metrics VALUES (%(run)s, 'k', 0.5, 1, 0, false)"
    with statement(engine) as cur:
        cur.execute(point, {"run": run_id})
    with pytest.raises(IntegrityError, match="duplicate key"), statement(engine) as cur:
        cur.execute(point, {"run": run_id})
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    with statement(engine) as cur:
        assert _pid(cur) == pid


def _terminate(uri: str, pid: int) -> None:
    admin = sa.create_engine(uri, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"SELECT pg_terminate_backend({pid}, 5000)")
    admin.dispose()


def test_a_connection_killed_in_use_is_dropped_and_the_next_write_reconnects(
    pg_store: SqlStore, postgres_uri: str
) -> None:
    engine = pg_store.engine
    with statement(engine) as cur:
        first = _pid(cur)
    _terminate(postgres_uri, first)  # back in the pool, and not idle long enough to be pinged
    with pytest.raises(DBAPIError) as raised, statement(engine) as cur:
        cur.execute("SELECT 1")
    assert raised.value.connection_invalidated
    run_id = pg_store.create_run("0", "u", 1).info.run_id  # a hot write, on a new connection
    pg_store.log_batch(run_id, metrics=[Metric("loss", 0.5, 1, 0)])
    with statement(engine) as cur:
        assert _pid(cur) != first
    assert [m.value for m in pg_store.get_run(run_id).data.metrics] == [0.5]


def test_on_the_loop_the_same_errors_come_out(pg_store: SqlStore) -> None:
    def failing() -> None:
        engine = pg_store._engine_now()
        assert engine is not pg_store.engine  # the loop's, whose connections are async ones
        with statement(engine) as cur:
            cur.execute("SELECT 1 / 0")

    async def main() -> None:
        with pytest.raises(DataError, match="division by zero"):
            await run_on_loop(failing)
        run_id = (await run_on_loop(pg_store.create_run, "0", "u", 1)).info.run_id
        await run_on_loop(pg_store.log_batch, run_id, [Metric("loss", 0.25, 1, 0)])
        assert [m.value for m in pg_store.get_run(run_id).data.metrics] == [0.25]

    asyncio.run(main())
