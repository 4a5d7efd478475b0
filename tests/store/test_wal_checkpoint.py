"""Background WAL checkpoints: a server's commits seldom checkpoint the log, a thread moves it."""

from __future__ import annotations

import itertools
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from shipyard.entities import Metric
from shipyard.store.sql import SqlStore, WalCheckpointer, _engine, make_engine
from shipyard.store.sql._engine import SERVER_AUTOCHECKPOINT_PAGES


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
    keeps restarting instead of growing (it grew ~3,000 pages a second, without end, when
    server commits never checkpointed: ~30 pages a run, 54,000 here). A low threshold keeps
    the test small; with it the log peaks at 100-1,600 pages.
    The work is a count, not a time, so a slow or busy machine writes as much as a fast one."""
    monkeypatch.setattr(_engine, "SERVER_AUTOCHECKPOINT_PAGES", 500)
    db = tmp_path / "b.db"
    engine = make_engine(f"sqlite:///{db}", background_checkpoints=True)
    store = SqlStore(f"sqlite:///{db}", str(tmp_path / "a"), engine=engine)
    checkpointer = WalCheckpointer(engine, interval=0.1)
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
    peak = 0  # frames in the log since it last restarted, as each checkpoint reports them
    while any(t.is_alive() for t in threads):
        peak = max(peak, checkpointer.last[1] if checkpointer.last else 0)
        time.sleep(0.05)
    for t in threads:
        t.join()
    checkpointer.stop()
    with engine.connect() as conn:
        made = conn.exec_driver_sql("SELECT count(*) FROM runs").scalar()
    assert made == 1600, f"{made} runs written"
    assert peak <= 6000, f"the log reached {peak} pages"
