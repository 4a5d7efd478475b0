"""A PostgreSQL store's calls run on an event loop (``run_on_loop``) wait there, through the
store's ``LoopEngine``, and behave as they do on a thread."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa

from shipyard.entities import Metric, Param, RunStatus, Tag
from shipyard.errors import InvalidParameter, RunNotFound
from shipyard.store import LoopIO
from shipyard.store.sql import SqlStore, _engine, run_on_loop
from shipyard.tracking import TrackingService

T = TypeVar("T")


def _loop_pool(store: SqlStore) -> Any:
    assert store._loop_engine is not None and store._loop_engine.engine is not None
    return store._loop_engine.engine.pool


def on_loop(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` run by ``run_on_loop`` on a fresh event loop."""

    async def main() -> T:
        return await run_on_loop(fn, *args)

    return asyncio.run(main())


def test_only_a_postgres_store_waits_on_the_loop(pg_store: SqlStore, tmp_path: Path) -> None:
    lite = SqlStore(f"sqlite:///{tmp_path / 'lite.db'}", str(tmp_path / "a"))
    assert (lite.loop_io, pg_store.loop_io) == (False, True)
    assert isinstance(pg_store, LoopIO) and isinstance(TrackingService(pg_store), LoopIO)
    assert (TrackingService(lite).loop_io, TrackingService(pg_store).loop_io) == (False, True)
    lite.dispose()


def test_calls_on_the_loop_use_its_engine_and_threads_do_not(pg_store: SqlStore) -> None:
    exp = pg_store.create_experiment("e")  # a thread's call: the ordinary engine
    assert pg_store._loop_engine is not None and pg_store._loop_engine.engine is None
    run = on_loop(pg_store.create_run, exp, "u", 5, [Tag("t", "1")], "first")
    assert _loop_pool(pg_store).checkedin() == 1
    got = pg_store.get_run(run.info.run_id)
    assert (got.info.run_name, got.info.start_time, got.data.tags["t"]) == ("first", 5, "1")


def test_the_hot_writes_on_the_loop_store_and_refuse_as_on_a_thread(pg_store: SqlStore) -> None:
    exp = pg_store.create_experiment("e")
    run_id = on_loop(pg_store.create_run, exp, "u", 1, [], None).info.run_id
    points = [Metric("loss", 1.0 / (i + 1), 100 + i, i) for i in range(5)]

    def log(metrics: list[Metric], params: list[Param], tags: list[Tag]) -> None:
        pg_store.log_batch(run_id, metrics, params, tags)

    on_loop(log, points, [Param("lr", "0.1")], [Tag("owner", "me")])
    on_loop(log, points[:3], [Param("lr", "0.1")], [])  # a client's retry: stored once
    with pytest.raises(InvalidParameter, match="lr"):
        on_loop(log, [Metric("loss", 9.0, 999, 9)], [Param("lr", "0.2")], [])
    with pytest.raises(RunNotFound):
        on_loop(pg_store.log_batch, "no-such-run", points)
    info = on_loop(pg_store.update_run_info, run_id, RunStatus.FINISHED.value, 500, "renamed")
    assert (info.status, info.end_time, info.run_name) == ("FINISHED", 500, "renamed")
    on_loop(pg_store.delete_tag, run_id, "owner")
    run = pg_store.get_run(run_id)
    history = pg_store.get_metric_history(run_id, "loss").items
    assert [(m.step, m.value) for m in history] == [(m.step, m.value) for m in points]
    assert run.data.params == {"lr": "0.1"} and "owner" not in run.data.tags
    assert [(m.key, m.value) for m in run.data.metrics] == [("loss", 0.2)]  # none refused


def test_a_write_waiting_on_postgres_leaves_the_loop_free(pg_store: SqlStore) -> None:
    """The run's row is locked by another session for a second; a batch for it waits for the
    lock on the loop while a ticker on the same loop keeps running."""
    run_id = pg_store.create_run(pg_store.create_experiment("e"), "u", 1).info.run_id
    locker = pg_store.engine.connect()
    locker.begin()
    locker.exec_driver_sql("SELECT 1 FROM runs WHERE run_uuid = %s FOR UPDATE", (run_id,))
    release = threading.Timer(1.0, locker.commit)

    async def main() -> int:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.create_task(tick())
        release.start()
        await run_on_loop(pg_store.log_batch, run_id, [Metric("m", 1.0, 1, 0)])
        ticker.cancel()
        return ticks

    started = time.monotonic()
    ticks = asyncio.run(main())
    release.join()
    locker.close()
    assert time.monotonic() - started >= 0.9  # it did wait for the lock
    assert ticks >= 20  # ~100 when the loop is free; 0 or 1 if the write had held it
    assert [m.value for m in pg_store.get_metric_history(run_id, "m").items] == [1.0]


def test_overlapping_writes_on_one_loop_lose_nothing(pg_store: SqlStore) -> None:
    run_id = pg_store.create_run(pg_store.create_experiment("e"), "u", 1).info.run_id

    def batch(writer: int, n: int) -> Coroutine[Any, Any, None]:
        points = [Metric(f"m{writer}", float(i), n * 100 + i, n * 100 + i) for i in range(100)]
        return run_on_loop(pg_store.log_batch, run_id, points)

    async def main() -> None:
        await asyncio.gather(*(batch(w, n) for w in range(8) for n in range(5)))

    asyncio.run(main())
    assert _loop_pool(pg_store).checkedin() > 1  # they did overlap: more than one connection
    for w in range(8):
        assert len(pg_store.get_metric_history(run_id, f"m{w}").items) == 500


def test_a_new_loop_starts_with_connections_of_its_own(pg_store: SqlStore) -> None:
    exp = pg_store.create_experiment("e")
    names = [on_loop(pg_store.create_run, exp, "u", 1, [], f"r{i}").info.run_name for i in range(3)]
    assert names == ["r0", "r1", "r2"]
    assert _loop_pool(pg_store).checkedin() == 1  # the earlier loops' connections were let go


def test_an_idle_loop_connection_killed_by_the_server_is_replaced(
    pg_store: SqlStore, postgres_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The loop's engine is made on first use, after the patch: it pings past 0.1 s idle.
    monkeypatch.setattr(_engine, "PING_AFTER_IDLE_S", 0.1)

    def backend_pid() -> int:
        with pg_store._engine_now().connect() as conn:
            return int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())

    async def main() -> tuple[int, int]:
        first = await run_on_loop(backend_pid)
        admin = sa.create_engine(postgres_uri, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f"SELECT pg_terminate_backend({first})")
        admin.dispose()
        await asyncio.sleep(0.3)
        return first, await run_on_loop(backend_pid)

    first, second = asyncio.run(main())
    assert second != first


def test_a_write_transaction_on_the_loop_is_one_and_its_connection_goes_back(
    pg_store: SqlStore,
) -> None:
    """The loop's connections are in autocommit; ``_write`` makes a real transaction."""
    exp = pg_store.create_experiment("e")

    def failing() -> None:
        with pg_store._write() as conn:
            level = conn.exec_driver_sql("SHOW transaction_isolation").scalar_one()
            assert level == "read committed"  # the server's default, as on a thread
            conn.exec_driver_sql(
                "UPDATE experiments SET name = 'changed' WHERE experiment_id = %s", (int(exp),)
            )
            raise RuntimeError("boom")

    def autocommit() -> bool:
        with pg_store._statement() as conn:
            return bool(conn.connection.driver_connection.autocommit)  # type: ignore[union-attr]

    async def main() -> bool:
        with pytest.raises(RuntimeError, match="boom"):
            await run_on_loop(failing)
        return await run_on_loop(autocommit)

    assert asyncio.run(main()) is True
    assert pg_store.get_experiment(exp).name == "e"  # rolled back whole


def _page_cost(conn: sa.Connection) -> str:
    return str(conn.exec_driver_sql("SHOW random_page_cost").scalar_one())


def test_both_engines_plan_with_shipyards_page_cost(pg_store: SqlStore) -> None:
    with pg_store.engine.connect() as conn:
        assert _page_cost(conn) == _engine.PG_RANDOM_PAGE_COST == "1.1"

    def on_the_loop() -> str:
        with pg_store._engine_now().connect() as conn:
            return _page_cost(conn)

    assert on_loop(on_the_loop) == "1.1"


def test_the_uris_own_options_are_kept_and_win(postgres_uri: str, tmp_path: Path) -> None:
    uri = postgres_uri + "?options=-c%20random_page_cost%3D3%20-c%20work_mem%3D8MB"
    store = SqlStore(uri, str(tmp_path / "artifacts"))

    def settings() -> tuple[str, str]:
        with store._engine_now().connect() as conn:
            return _page_cost(conn), str(conn.exec_driver_sql("SHOW work_mem").scalar_one())

    try:
        assert settings() == on_loop(settings) == ("3", "8MB")
    finally:
        store.dispose()
