"""Background WAL checkpoints: a server's commits seldom checkpoint the log, a thread moves it."""

from __future__ import annotations

import itertools
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from shipyard.entities import Metric, Tag
from shipyard.store.sql import SqlStore, WalCheckpointer, _engine, make_engine
from shipyard.store.sql._engine import SERVER_AUTOCHECKPOINT_PAGES, writer_gate


def _fill(store: SqlStore, runs: int) -> None:
    for i in range(runs):
        run_id = store.create_run("0", "", i).info.run_id
        store.log_batch(run_id, metrics=[Metric(f"m{j}", float(j), 1, 0) for j in range(50)])


def _log_frames(db: Path) -> int:
    """Frames in the write-ahead log, read from its size (32-byte header, 24 + page per frame)."""
    wal = Path(f"{db}-wal")
    return (wal.stat().st_size - 32) // (24 + 4096) if wal.exists() else 0


def test_commits_leave_the_log_to_the_checkpointer(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    engine = make_engine(f"sqlite:///{db}", background_checkpoints=True)
    store = SqlStore(f"sqlite:///{db}", str(tmp_path / "a"), engine=engine)
    with engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
        assert pages == SERVER_AUTOCHECKPOINT_PAGES
    _fill(store, 120)
    assert _log_frames(db) > 1000  # past where a commit would have checkpointed it

    checkpointer = WalCheckpointer(engine, interval=0.05)
    checkpointer.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (
            checkpointer.last and checkpointer.last[1] > 1000
        ):
            time.sleep(0.05)
        assert checkpointer.last is not None
        busy, frames, done = checkpointer.last
        assert (busy, done) == (0, frames) and frames > 1000  # the whole log is in the file
    finally:
        checkpointer.stop()
    # The database file alone, copied without its log, holds every row: the log is in it.
    alone = tmp_path / "alone.db"
    alone.write_bytes(db.read_bytes())
    with sqlite3.connect(alone) as conn:
        assert conn.execute("SELECT count(*) FROM metrics").fetchone() == (120 * 50,)


def test_without_the_flag_sqlite_checkpoints_as_usual(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    store = SqlStore(f"sqlite:///{db}", str(tmp_path / "a"))
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
    _fill(store, 120)
    assert _log_frames(db) <= 1100  # the commit that passed 1,000 pages restarted the log


def test_the_log_stays_bounded_under_steady_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four threads create 1,600 runs back to back with the checkpointer running: the log file
    stays near the cap instead of growing. Without the size check and TRUNCATE the file reached
    47-156k pages (threshold 500 or 4,000), though every checkpoint copied the whole log; on a
    machine kept busy by two other processes, without end (500 MB in 20 seconds). With them it
    peaks at 2-4k pages, busy machine or not. The file's size is read, not a checkpoint's
    report, and the work is a count, not a time, so a slow machine writes as much as a fast
    one."""
    monkeypatch.setattr(_engine, "SERVER_AUTOCHECKPOINT_PAGES", 500)
    db = tmp_path / "b.db"
    engine = make_engine(f"sqlite:///{db}", background_checkpoints=True)
    store = SqlStore(f"sqlite:///{db}", str(tmp_path / "a"), engine=engine)
    checkpointer = WalCheckpointer(engine, interval=0.1)
    assert checkpointer.cap_pages == 1000
    checkpointer.start()
    runs = itertools.count()
    deadline = time.monotonic() + 120  # a bound on the loop only; the work is 1,600 runs

    def writer() -> None:
        while next(runs) < 1600 and time.monotonic() < deadline:
            run_id = store.create_run("0", "", 1).info.run_id
            store.log_batch(run_id, metrics=[Metric(f"m{j}", 1.0, 1, 0) for j in range(20)])
            store.update_run_info(run_id, "FINISHED", 2)

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for t in threads:
        t.start()
    peak = 0
    while any(t.is_alive() for t in threads):
        peak = max(peak, _log_frames(db))
        time.sleep(0.01)
    for t in threads:
        t.join()
    checkpointer.stop()
    with engine.connect() as conn:
        made = conn.exec_driver_sql("SELECT count(*) FROM runs").scalar()
        points = conn.exec_driver_sql("SELECT count(*) FROM metrics").scalar()
    assert (made, points) == (1600, 1600 * 20)
    assert checkpointer.truncations > 0
    assert peak <= 6000, f"the log file reached {peak} pages"


def _grow_log(tmp_path: Path) -> tuple[Path, SqlStore]:
    """A server's database whose log is past a checkpointer's cap of 1,000 pages."""
    db = tmp_path / "g.db"
    engine = make_engine(f"sqlite:///{db}", background_checkpoints=True)
    store = SqlStore(f"sqlite:///{db}", str(tmp_path / "a"), engine=engine)
    _fill(store, 120)
    assert _log_frames(db) > 1000
    return db, store


def test_past_the_cap_a_round_empties_the_log_file(tmp_path: Path) -> None:
    db, store = _grow_log(tmp_path)
    checkpointer = WalCheckpointer(store.engine, cap_pages=1000)
    assert checkpointer.log_pages() == _log_frames(db)
    assert checkpointer.checkpoint() == (0, 0, 0)  # the log emptied: no frames left in it
    assert checkpointer.truncations == 1
    assert Path(f"{db}-wal").stat().st_size == 0
    alone = tmp_path / "alone.db"  # the database file by itself holds every row
    alone.write_bytes(db.read_bytes())
    with sqlite3.connect(alone) as conn:
        assert conn.execute("SELECT count(*) FROM metrics").fetchone() == (120 * 50,)
    # Under the cap a round is PASSIVE again: the file is left as it is.
    store.log_batch(store.create_run("0", "", 1).info.run_id, metrics=[Metric("x", 1.0, 1, 0)])
    size = Path(f"{db}-wal").stat().st_size
    assert size > 0 and checkpointer.checkpoint()[0] == 0
    assert Path(f"{db}-wal").stat().st_size == size and checkpointer.truncations == 1


def test_a_reader_in_the_log_fails_the_truncate_and_writes_go_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read transaction begun before the log was copied keeps it: the TRUNCATE gives up
    after its wait, the log is still whole, and the writes it held go on."""
    db, store = _grow_log(tmp_path)
    monkeypatch.setattr(WalCheckpointer, "TRUNCATE_WAIT_MS", 100)
    checkpointer = WalCheckpointer(store.engine, cap_pages=1000)
    reader = sqlite3.connect(db, isolation_level=None)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM metrics").fetchone() == (120 * 50,)
    written: list[float] = []

    def write() -> None:
        time.sleep(0.03)  # while the gate is held
        run_id = store.create_run("0", "", 1).info.run_id
        store.log_batch(run_id, metrics=[Metric("late", 1.0, 1, 0)])
        written.append(time.monotonic())

    late = threading.Thread(target=write)
    late.start()
    started = time.monotonic()
    busy, frames, _done = checkpointer.truncate()
    ended = time.monotonic()
    late.join(timeout=30)
    assert busy == 1 and frames > 1000 and checkpointer.truncations == 0
    assert 0.1 <= ended - started < 5
    assert written and written[0] >= ended - 0.01  # the write waited for the gate to open
    assert _log_frames(db) > 1000  # not emptied under the reader
    assert reader.execute("SELECT count(*) FROM metrics").fetchone() == (120 * 50,)
    reader.execute("COMMIT")
    reader.close()
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM metrics").scalar() == 120 * 50 + 1


def test_a_held_gate_holds_writes_until_it_opens(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    engine = make_engine(f"sqlite:///{db}", background_checkpoints=True)
    store = SqlStore(f"sqlite:///{db}", str(tmp_path / "a"), engine=engine)
    run_id = store.create_run("0", "", 1).info.run_id
    gate = writer_gate(engine)
    assert gate is not None and writer_gate(make_engine(f"sqlite:///{db}")) is None
    done = threading.Event()

    def write() -> None:
        store.log_batch(run_id, metrics=[Metric("m", 1.0, 1, 0)])
        store.set_experiment_tag("0", Tag("t", "v"))  # a write through SQLAlchemy's BEGIN
        done.set()

    with gate.held():
        t = threading.Thread(target=write)
        t.start()
        assert not done.wait(0.3)
    assert done.wait(30)
    t.join()
    run = store.get_run(run_id)
    assert [(m.key, m.value) for m in run.data.metrics] == [("m", 1.0)]
    assert store.get_experiment("0").tags["t"] == "v"
