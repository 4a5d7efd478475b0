"""A finished run's data kept as JSON on its row (PostgreSQL's read path, ``_run_docs``).

The oracle everywhere is the entity path (``search_runs``), which never reads the kept JSON:
the wire path must give exactly what encoding its runs gives, before and after keeping, after
every kind of write, and in the racing orders of a fill and a write on two connections.
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from shipyard import wire
from shipyard.entities import Dataset, DatasetInput, Metric, Param, Tag
from shipyard.store import RunQuery
from shipyard.store.sql import SqlStore, _run_docs
from shipyard.store.sql._kept_bodies import KeptBodies

# An odd string: what JSON must escape, and more.
ODD = 'a "quoted"\nline\\ \t é 🚀 \u0001 </script>'


@pytest.fixture
def store(db_uri: str, tmp_path: Path) -> Iterator[SqlStore]:
    s = SqlStore(db_uri, str(tmp_path / "artifacts"))
    yield s
    s.engine.dispose()


def _wire(store: SqlStore, exp: str) -> list[dict[str, Any]]:
    page = store.search_runs_json(RunQuery([exp], order_by=["attributes.start_time"]))
    return list(orjson.loads(orjson.dumps(page.items)))


def _oracle(store: SqlStore, exp: str) -> list[dict[str, Any]]:
    runs = store.search_runs([exp], order_by=["attributes.start_time"]).items
    return [wire.run_to_json(r) for r in runs]


def _kept(store: SqlStore, run_id: str) -> str | None:
    with store.engine.connect() as conn:
        sql = (
            "SELECT w.body FROM runs r LEFT JOIN run_wire w ON w.run_uuid = r.run_uuid "
            "WHERE r.run_uuid = :r AND r.wire_kept"
        )
        return conn.scalar(sa.text(sql), {"r": run_id})


def _finished_run(store: SqlStore, exp: str, start: int = 1, **batch: object) -> str:
    run_id = store.create_run(exp, "alice", start, run_name=f"r{start}").info.run_id
    store.log_batch(run_id, **batch)  # type: ignore[arg-type]
    store.update_run_info(run_id, "FINISHED", start + 1)
    return run_id


def test_kept_json_is_what_the_entities_encode(store: SqlStore) -> None:
    exp = store.create_experiment("kept")
    points = [
        Metric("nan", math.nan, 5, 0),
        Metric("inf", math.inf, 5, 0),
        Metric("ninf", -math.inf, 5, 0),
        Metric("zero", -0.0, 5, 0),
        Metric("tiny", 5e-324, 5, 0),
        Metric("huge", 1.7976931348623157e308, 5, 0),
        Metric("acc", 0.1 + 0.2, 7, 3),
        Metric("acc", 0.5, 6, 2),  # older: not the latest
        Metric(ODD, 1 / 3, 8, 1),
    ]
    full = _finished_run(
        store,
        exp,
        1,
        metrics=points,
        params=[Param("p", "1"), Param("odd", ODD), Param("empty", "")],
        tags=[Tag("t", "x"), Tag("o", ODD)],
    )
    ds = Dataset("d", "digest", "code", "{}", '{"cols": ["a"]}', None)
    store.log_inputs(full, [DatasetInput(ds, (Tag("mlflow.data.context", "eval"),))], ["m-in"])
    store.log_outputs(full, [("m-out", 4)])
    bare = _finished_run(store, exp, 3)
    running = store.create_run(exp, "bob", 5, run_name="live").info.run_id
    store.log_batch(running, metrics=[Metric("acc", 0.9, 1, 0)])

    expected = _oracle(store, exp)
    assert _kept(store, full) is None
    assert _wire(store, exp) == expected  # the first read keeps the finished runs' JSON
    kept_text = _kept(store, full)
    assert kept_text is not None and '" : ' not in kept_text  # compact, as orjson writes
    # and empty lists are left out, as runs_json does:
    tags = [{"key": "mlflow.runName", "value": "r3"}]
    assert orjson.loads(_kept(store, bare) or "") == {
        "data": {"tags": tags},
        "inputs": {},
        "outputs": {},
    }
    assert _kept(store, running) is None  # a running run is read from its tables every time
    assert _wire(store, exp) == expected  # and the second read uses it
    first = expected[0]
    assert {"key": "acc", "value": 0.1 + 0.2, "timestamp": 7, "step": 3} in first["data"]["metrics"]
    assert first["inputs"]["model_inputs"] == [{"model_id": "m-in"}]
    assert first["inputs"]["dataset_inputs"][0]["dataset"]["schema"] == '{"cols": ["a"]}'
    assert first["outputs"] == {"model_outputs": [{"model_id": "m-out", "step": 4}]}


WRITES: dict[str, Callable[[SqlStore, str], None]] = {
    "a newer metric": lambda s, r: s.log_batch(r, metrics=[Metric("acc", 0.99, 50, 9)]),
    "an older metric": lambda s, r: s.log_batch(r, metrics=[Metric("acc", 0.01, 1, 0)]),
    "a new param": lambda s, r: s.log_batch(r, params=[Param("new", "v")]),
    "a tag": lambda s, r: s.log_batch(r, tags=[Tag("team", "b")]),
    "the name tag": lambda s, r: s.log_batch(r, tags=[Tag("mlflow.runName", "renamed")]),
    "a rename": lambda s, r: s.update_run_info(r, None, None, "renamed"),
    "a deleted tag": lambda s, r: s.delete_tag(r, "team"),
    "an empty batch": lambda s, r: s.log_batch(r),
    "a dataset input": lambda s, r: s.log_inputs(
        r, [DatasetInput(Dataset("d", "x", "code", "{}", None, None), ())]
    ),
    "a model input": lambda s, r: s.log_inputs(r, model_ids=["m-1"]),
    "a model output": lambda s, r: s.log_outputs(r, [("m-2", 3)]),
}


@pytest.mark.parametrize("write", sorted(WRITES))
def test_every_write_clears_the_kept_json(store: SqlStore, write: str) -> None:
    exp = store.create_experiment("writes")
    run_id = _finished_run(
        store,
        exp,
        metrics=[Metric("acc", 0.5, 10, 1)],
        params=[Param("p", "1")],
        tags=[Tag("team", "a")],
    )
    _wire(store, exp)
    assert _kept(store, run_id) is not None
    WRITES[write](store, run_id)
    assert _kept(store, run_id) is None
    assert _wire(store, exp) == _oracle(store, exp)
    assert _kept(store, run_id) is not None  # kept again, with the write in it
    assert _wire(store, exp) == _oracle(store, exp)


def test_status_and_end_time_changes_keep_the_json(store: SqlStore) -> None:
    """Info comes from the row's columns, never from the kept JSON: finishing again (a later
    end time) need not clear it, and the answer still shows the new end time."""
    exp = store.create_experiment("info")
    run_id = _finished_run(store, exp, metrics=[Metric("acc", 0.5, 10, 1)])
    _wire(store, exp)
    doc = _kept(store, run_id)
    store.update_run_info(run_id, "FAILED", 1234)
    assert _kept(store, run_id) == doc
    info = _wire(store, exp)[0]["info"]
    assert isinstance(info, dict) and (info["status"], info["end_time"]) == ("FAILED", 1234)


def test_a_kept_body_gone_from_under_its_flag_is_read_from_the_tables(store: SqlStore) -> None:
    """``wire_kept`` set but the body's row missing (a purge between the flag and the body):
    the search reads the run from its tables, whether the body comes from the search's own
    query (PostgreSQL) or a second statement (SQLite)."""
    exp = store.create_experiment("gone")
    run_id = _finished_run(store, exp, params=[Param("p", ODD)], metrics=[Metric("m", 1.5, 3, 2)])
    _wire(store, exp)
    assert _kept(store, run_id) is not None
    with store.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM run_wire WHERE run_uuid = :r"), {"r": run_id})
    assert _wire(store, exp) == _oracle(store, exp)
    assert _wire(store, exp)[0]["data"]["params"] == [{"key": "p", "value": ODD}]


def _paged(store: SqlStore, exp: str, seen: list[str]) -> list[dict[str, Any]]:
    """Every run of ``exp``, three a page, with the statements sent appended to ``seen``."""

    def grab(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    runs, token = [], None
    sa.event.listen(store.engine, "before_cursor_execute", grab)
    try:
        while True:
            query = RunQuery([exp], order_by=["attributes.start_time"], max_results=3)
            page = store.search_runs_json(replace(query, page_token=token))
            runs += orjson.loads(orjson.dumps(page.items))
            if not (token := page.next_page_token):
                return runs
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", grab)


def test_a_store_holds_the_bodies_it_has_read(store: SqlStore) -> None:
    """After the read that keeps them, the bodies come from the store's memory: no statement
    reads ``run_wire``; a store that holds none reads each page's in one statement; every
    read is what the entities encode."""
    exp = store.create_experiment("pages")
    for i in range(7):
        _finished_run(store, exp, start=i + 1, params=[Param("p", f"v{i}")])
    first: list[str] = []
    assert _paged(store, exp, first) == _oracle(store, exp)
    assert len(store._held) == 7 and not any("FROM run_wire" in s for s in first)
    again: list[str] = []
    assert _paged(store, exp, again) == _oracle(store, exp)
    assert len(again) >= 3 and not any("run_wire" in s for s in again)
    store._held.clear()
    cold: list[str] = []
    assert _paged(store, exp, cold) == _oracle(store, exp)
    assert sum("FROM run_wire" in s for s in cold) == 3 and len(store._held) == 7


def test_a_store_with_no_room_for_bodies_reads_them_every_time(db_uri: str, tmp_path: Path) -> None:
    """``kept_bodies_bytes=0`` (the server's ``SHIPYARD_KEPT_BODIES_MB=0``): nothing is held,
    and each read asks the database for its bodies."""
    store = SqlStore(db_uri, str(tmp_path / "artifacts"), kept_bodies_bytes=0)
    try:
        exp = store.create_experiment("none held")
        for i in range(4):
            _finished_run(store, exp, start=i + 1, params=[Param("p", f"v{i}")])
        assert _paged(store, exp, []) == _oracle(store, exp)  # keeps them
        for _ in range(2):
            seen: list[str] = []
            assert _paged(store, exp, seen) == _oracle(store, exp)
            assert sum("FROM run_wire" in s for s in seen) == 2  # one per page of three
        assert len(store._held) == 0 and store._held.size == 0
    finally:
        store.dispose()


def test_bodies_held_by_one_store_follow_another_stores_writes(
    db_uri: str, store: SqlStore, tmp_path: Path
) -> None:
    """Two servers on one database: what one holds is never served once the other has
    changed the run, whether the other kept the new body (a new generation) or not (the flag
    cleared); the held body of a run nobody changed is still used."""
    exp = store.create_experiment("two")
    changed = _finished_run(store, exp, start=1, params=[Param("p", "old")])
    still = _finished_run(store, exp, start=2, params=[Param("q", "same")])
    other = SqlStore(db_uri, str(tmp_path / "artifacts"))
    try:
        assert _wire(store, exp) == _oracle(store, exp)  # store holds both bodies
        other.log_batch(changed, params=[Param("p2", "new")], tags=[Tag("t", ODD)])
        assert _wire(other, exp) == _oracle(other, exp)  # other keeps the new body
        seen: list[str] = []
        got = _paged(store, exp, seen)
        assert got == _oracle(store, exp)
        assert {"key": "p2", "value": "new"} in got[0]["data"]["params"]
        assert sum("FROM run_wire" in s for s in seen) == 1  # the changed run's, not both
        other.log_batch(changed, tags=[Tag("t", "plain")])  # clears the flag; nobody kept it
        got = _paged(store, exp, [])
        assert got == _oracle(store, exp)
        assert {"key": "t", "value": "plain"} in got[0]["data"]["tags"]
        assert got[1]["data"]["params"] == [{"key": "q", "value": "same"}]
        assert still in store._held._items
    finally:
        other.dispose()


def test_held_bodies_stay_within_their_byte_budget(store: SqlStore) -> None:
    exp = store.create_experiment("budget")
    for i in range(6):
        _finished_run(store, exp, start=i + 1, params=[Param("p", "x" * 500)])
    _wire(store, exp)
    sizes = {len(tail) for _, tail in store._held._items.values()}
    assert len(sizes) == 1 and sizes.pop() > 500  # alike: "r1" .. "r6", "x" * 500
    budget = store._held.size // 2 + 10  # room for three
    store._held = KeptBodies(max_bytes=budget)
    assert _wire(store, exp) == _oracle(store, exp)
    assert len(store._held) == 3 and store._held.size <= budget
    assert _wire(store, exp) == _oracle(store, exp)  # three held, three read
    assert len(store._held) == 3 and store._held.size <= budget


def test_random_writes_and_reads_agree_with_the_tables(
    db_uri: str, store: SqlStore, tmp_path: Path
) -> None:
    """Writes of every kind to a few finished runs through two stores on one database (two
    server processes, each holding the bodies it has read), with reads through either in
    between: the wire path always equals the entity path."""
    rng = random.Random(7)
    other = SqlStore(db_uri, str(tmp_path / "artifacts"))
    stores = [store, other]
    exp = store.create_experiment("random")
    ids = [_finished_run(store, exp, i * 10) for i in range(3)]
    try:
        for step in range(80):
            run_id, writer = rng.choice(ids), rng.choice(stores)
            kind = rng.randrange(4)
            if kind == 0:
                point = Metric(f"m{rng.randrange(3)}", rng.random(), rng.randrange(100), 1)
                writer.log_batch(run_id, metrics=[point])
            elif kind == 1:
                writer.log_batch(run_id, params=[Param(f"p{step}", str(step))])
            elif kind == 2:
                writer.log_batch(run_id, tags=[Tag(f"t{rng.randrange(3)}", str(step))])
            else:
                tags = writer.get_run(run_id).data.tags
                if f"t{step % 3}" in tags:
                    writer.delete_tag(run_id, f"t{step % 3}")
            if rng.random() < 0.6:
                reader = rng.choice(stores)
                assert _wire(reader, exp) == _oracle(store, exp), f"after step {step}"
        for reader in stores:
            assert _wire(reader, exp) == _oracle(store, exp)
        assert len(store._held) > 0 and len(other._held) > 0
    finally:
        other.dispose()


def _blocked(thread: threading.Thread) -> bool:
    """Whether ``thread`` is still waiting (on a lock) after a moment."""
    thread.start()
    thread.join(0.5)
    return thread.is_alive()


def test_a_write_waiting_on_a_fill_clears_what_it_kept(pg_store: SqlStore) -> None:
    """A fill holds its runs ``FOR UPDATE`` until it commits: a batch arriving meanwhile waits,
    then finds the JSON (the newest row) and clears it in its own statement."""
    store = pg_store
    exp = store.create_experiment("race-batch")
    run_id = _finished_run(store, exp, metrics=[Metric("acc", 0.5, 10, 1)])
    with store.engine.connect() as fill_conn:
        with fill_conn.begin():
            assert list(_run_docs.fill(fill_conn, [run_id]).bodies) == [run_id]
            writer = threading.Thread(
                target=store.log_batch,
                args=(run_id,),
                kwargs={"metrics": [Metric("acc", 0.7, 20, 2)]},
            )
            assert _blocked(writer)
        writer.join(10)
    assert not writer.is_alive()
    assert _kept(store, run_id) is None
    assert _wire(store, exp) == _oracle(store, exp)
    data = _wire(store, exp)[0]["data"]
    assert isinstance(data, dict) and data["metrics"][0]["value"] == 0.7


def test_a_generic_write_waiting_on_a_fill_clears_what_it_kept(pg_store: SqlStore) -> None:
    """Deleting a tag clears the JSON after its delete, unconditionally: a fill that took its
    snapshot before the delete committed is cleared when the delete's transaction goes on."""
    store = pg_store
    exp = store.create_experiment("race-generic")
    run_id = _finished_run(store, exp, tags=[Tag("team", "a")])
    with store.engine.connect() as fill_conn:
        with fill_conn.begin():
            assert list(_run_docs.fill(fill_conn, [run_id]).bodies) == [run_id]
            writer = threading.Thread(target=store.delete_tag, args=(run_id, "team"))
            assert _blocked(writer)
        writer.join(10)
    assert not writer.is_alive()
    assert _kept(store, run_id) is None
    wire_runs = _wire(store, exp)
    assert wire_runs == _oracle(store, exp)
    data = wire_runs[0]["data"]
    assert isinstance(data, dict) and "team" not in {t["key"] for t in data["tags"]}


def test_a_fill_skips_a_run_with_a_write_in_flight(pg_store: SqlStore) -> None:
    """A writer that has locked the run (as every batch does, ``FOR KEY SHARE``) and not
    committed: the search neither waits nor keeps that run; it reads it from its tables, and a
    later search keeps it with the write in it."""
    store = pg_store
    exp = store.create_experiment("in-flight")
    run_id = _finished_run(store, exp, params=[Param("p", "1")])
    with store.engine.connect() as writer, writer.begin():
        writer.execute(
            sa.text("SELECT 1 FROM runs WHERE run_uuid = :r FOR KEY SHARE"), {"r": run_id}
        )
        writer.execute(sa.text("INSERT INTO params VALUES (:r, 'late', 'x')"), {"r": run_id})
        started = time.perf_counter()
        during = _wire(store, exp)
        assert time.perf_counter() - started < 5  # did not wait for the writer
        assert _kept(store, run_id) is None
    data = during[0]["data"]
    assert isinstance(data, dict) and data["params"] == [{"key": "p", "value": "1"}]
    after = _wire(store, exp)
    assert after == _oracle(store, exp) and _kept(store, run_id) is not None
    data = after[0]["data"]
    assert isinstance(data, dict) and {"key": "late", "value": "x"} in data["params"]


def test_a_read_only_database_reads_without_keeping(
    pg_store: SqlStore, postgres_uri: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = pg_store
    exp = store.create_experiment("read-only")
    run_id = _finished_run(store, exp, params=[Param("p", "1")])
    engine = sa.create_engine(
        postgres_uri.replace("postgresql://", "postgresql+psycopg://", 1),
        connect_args={"options": "-c default_transaction_read_only=on"},
    )
    reader = SqlStore(postgres_uri, str(tmp_path), engine=engine, check_schema=False)
    try:
        with caplog.at_level(logging.WARNING, logger="shipyard.store"):
            first = reader.search_runs_json(RunQuery([exp])).items
            second = reader.search_runs_json(RunQuery([exp])).items
        assert orjson.loads(orjson.dumps(first)) == orjson.loads(orjson.dumps(second))
        assert orjson.loads(orjson.dumps(first)) == _oracle(store, exp)
        assert _kept(store, run_id) is None
        warnings = [r for r in caplog.records if "not kept as JSON" in r.getMessage()]
        assert len(warnings) == 1 and "read-only" in warnings[0].getMessage()
    finally:
        engine.dispose()


def test_sqlite_fill_does_not_wait_for_another_write(tmp_path: Path) -> None:
    """Another connection holds SQLite's write lock: the search answers at once from the tables
    and keeps nothing (and does not turn keeping off); once the lock is gone it keeps."""
    store = SqlStore(f"sqlite:///{tmp_path / 'l.db'}", str(tmp_path))
    exp = store.create_experiment("lite")
    run_id = _finished_run(store, exp, params=[Param("p", "1")])
    holder = sqlite3.connect(tmp_path / "l.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        started = time.perf_counter()
        assert _wire(store, exp) == _oracle(store, exp)
        assert time.perf_counter() - started < 5  # the busy timeout is 60 s
        assert _kept(store, run_id) is None
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert _wire(store, exp) == _oracle(store, exp)
    assert _kept(store, run_id) is not None
    # Every pooled connection (the fill's among them: the pool holds 8) waits again as before.
    with contextlib.ExitStack() as stack:
        conns = [stack.enter_context(store.engine.connect()) for _ in range(8)]
        waits = {c.exec_driver_sql("PRAGMA busy_timeout").scalar() for c in conns}
    assert waits == {60000}


def test_an_unexpected_fill_error_skips_keeping_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A fill that fails for another reason (a dropped connection, say) costs the read
    nothing but a warning, and the next read keeps the run."""
    store = SqlStore(f"sqlite:///{tmp_path / 'e.db'}", str(tmp_path))
    exp = store.create_experiment("flaky")
    run_id = _finished_run(store, exp, params=[Param("p", "1")])
    real_fill = _run_docs.fill

    def failing(conn: object, run_ids: object) -> dict[str, str]:
        raise sa.exc.OperationalError("fill", None, sqlite3.OperationalError("disk I/O error"))

    monkeypatch.setattr(_run_docs, "fill", failing)
    with caplog.at_level(logging.WARNING, logger="shipyard.store"):
        assert _wire(store, exp) == _oracle(store, exp)
    assert _kept(store, run_id) is None
    assert ["disk I/O error" in r.getMessage() for r in caplog.records] == [True]
    monkeypatch.setattr(_run_docs, "fill", real_fill)
    assert _wire(store, exp) == _oracle(store, exp)
    assert _kept(store, run_id) is not None


def test_concurrent_searches_keep_each_run_once_and_agree(store: SqlStore) -> None:
    """Four threads searching the same fresh runs at once: one fill takes each run (the others
    skip it, or on SQLite find the write lock taken) and every answer equals the tables'."""
    exp = store.create_experiment("readers")
    ids = [_finished_run(store, exp, i, params=[Param("p", str(i))]) for i in range(40)]
    expected = _oracle(store, exp)
    answers: list[list[dict[str, Any]]] = []
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            for _ in range(3):
                answers.append(_wire(store, exp))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and len(answers) == 12
    assert all(a == expected for a in answers)
    assert all(_kept(store, r) is not None for r in ids)
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM run_wire").scalar_one() == 40
