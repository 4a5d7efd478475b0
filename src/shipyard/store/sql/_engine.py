"""Engines for the tracking database, tuned per dialect.

SQLite gets WAL (readers never block the writer), ``synchronous=NORMAL`` (durable at each
checkpoint and crash-safe: a transaction is all there or not at all) and a busy timeout so several
worker processes can share one file.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import QueuePool
from sqlalchemy.util import greenlet_spawn
from sqlalchemy.util.concurrency import in_greenlet

__all__ = [
    "LoopEngine",
    "WalCheckpointer",
    "WriterGate",
    "make_engine",
    "normalise_db_uri",
    "run_on_loop",
    "writer_gate",
]

_log = logging.getLogger("shipyard.store")


def normalise_db_uri(uri: str) -> str:
    """Accept MLflow's spellings (``postgresql://``) and pick the driver we ship (psycopg 3)."""
    if uri.startswith("postgres://"):
        uri = "postgresql://" + uri.removeprefix("postgres://")
    if uri.startswith("postgresql://"):
        uri = "postgresql+psycopg://" + uri.removeprefix("postgresql://")
    return uri


def _sqlite_pragmas(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=60000")
    cur.execute("PRAGMA cache_size=-65536")
    cur.close()
    # Take transaction control from pysqlite so BEGIN is ours (see _sqlite_begin).
    dbapi_conn.isolation_level = None


class WriterGate:
    """Where this process's writes to a SQLite file wait while a ``WalCheckpointer`` empties
    its log. SQLite's write lock is not fair: a thread that commits and begins again takes it
    back before the others' busy handlers wake, so under steady writes from several threads a
    checkpoint that needs the lock can wait out any timeout. Open, passing costs an attribute
    read."""

    def __init__(self) -> None:
        self._open = threading.Event()
        self._open.set()

    def passing(self) -> None:
        """Return at once when the gate is open, else once it opens again."""
        if not self._open.is_set():
            self._open.wait()

    @contextmanager
    def held(self) -> Iterator[None]:
        """New writes wait until the block ends."""
        self._open.clear()
        try:
            yield
        finally:
            self._open.set()


def writer_gate(engine: Engine) -> WriterGate | None:
    """The gate of a server's SQLite engine (``make_engine(..., background_checkpoints=True)``);
    None for any other."""
    gate: WriterGate | None = getattr(engine.pool, "shipyard_writer_gate", None)
    return gate


def _sqlite_begin(conn: Connection) -> None:
    # A write takes the write lock up front: a deferred transaction that later upgrades can fail
    # with "database is locked" without waiting on the busy timeout.
    immediate = conn.get_execution_options().get("shipyard_write", False)
    if immediate and (gate := writer_gate(conn.engine)) is not None:
        gate.passing()
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


# With a ``WalCheckpointer`` beside them, commits checkpoint the log only past this many pages
# (SQLite's default: 1,000). Not never: a checkpoint from another thread copies the log but
# cannot make writers start over at its beginning (SQLite restarts the log only when a write
# begins with the whole log copied, and a server's writes follow each other without a gap), so
# with commits that never checkpoint the log grew without end (21 GB in two minutes of four
# clients creating runs, until the disk was full). A commit's own checkpoint leaves the log
# fully copied for the next write, which restarts it: the log stays under ~16 MB.
SERVER_AUTOCHECKPOINT_PAGES = 4000


def _late_autocheckpoint(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    dbapi_conn.execute(f"PRAGMA wal_autocheckpoint={SERVER_AUTOCHECKPOINT_PAGES}")


def make_engine(uri: str, background_checkpoints: bool = False) -> Engine:
    """An engine for ``uri``; with ``background_checkpoints`` a SQLite engine's commits
    checkpoint the log only past ``SERVER_AUTOCHECKPOINT_PAGES``, and a ``WalCheckpointer``
    should run beside it."""
    uri = normalise_db_uri(uri)
    url = make_url(uri)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 60}, pool_size=8
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        if background_checkpoints:
            event.listen(engine, "connect", _late_autocheckpoint)
            engine.pool.shipyard_writer_gate = WriterGate()  # type: ignore[attr-defined]
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    engine = create_engine(url, connect_args=pg_connect_args(url), pool_size=10, max_overflow=20)
    _prepare_pg(engine)
    return engine


# The planner's cost of a page read out of order, for Shipyard's own sessions. PostgreSQL's
# default (4) prices a random read as a spinning disk's; a tracking database is small and hot
# (in shared buffers or the page cache), where a random read costs about what a sequential one
# does: 1.1 is the usual figure for SSDs and cached data. With 4 the filtered search
# (``metrics.acc > 0.5 AND params.model = 'rf'`` by ``acc``) probed each candidate's run
# before its param and took 1.79 ms; with 1.1 (or anything up to 2) the param comes first and
# runs are probed for the survivors only: 1.43 ms (benchmarks/RESULTS.md, run V).
PG_RANDOM_PAGE_COST = "1.1"


def pg_connect_args(url: URL) -> dict[str, str]:
    """psycopg's connection arguments for ``url``: UTF-8 whatever the database's encoding
    (``_pg_arrays.texts`` packs text that way) and ``PG_RANDOM_PAGE_COST`` for the session.
    The URI's own ``options`` (``?options=-c%20random_page_cost%3D4``) come after ours, so a
    setting given there wins; SQLAlchemy's ``connect_args`` would otherwise replace them."""
    options = f"-c random_page_cost={PG_RANDOM_PAGE_COST}"
    given = url.query.get("options")
    if given:
        options += " " + (given if isinstance(given, str) else " ".join(given))
    return {"client_encoding": "utf8", "options": options}


def _prepare_pg(engine: Engine) -> None:
    from shipyard.store.sql import _pg_arrays  # numpy: loaded for PostgreSQL engines only

    event.listen(engine, "connect", _pg_arrays.register)
    IdlePing(PING_AFTER_IDLE_S).attach(engine)


T = TypeVar("T")


def run_on_loop(fn: Callable[..., T], *args: Any) -> Coroutine[Any, Any, T]:
    """A coroutine running ``fn(*args)`` on the event loop, its ``LoopEngine`` I/O awaited
    there (SQLAlchemy's greenlet bridge, the one its asyncio extension runs on)."""
    return greenlet_spawn(fn, *args)


def _loop_bridge_installed() -> bool:
    try:
        import greenlet  # noqa: F401 - SQLAlchemy's asyncio extra
    except ImportError:
        return False
    return True


class LoopEngine:
    """PostgreSQL connections whose waits happen on the event loop, for code run by
    ``run_on_loop``.

    A request served on a worker thread pays a hop there and back: ~0.1-0.2 ms on these
    machines, half of a one-metric write's server time. The same store code run in a greenlet
    on the loop (``run_on_loop``) with psycopg's async connections sends the statement and gives
    the loop back while PostgreSQL works, so other requests go on meanwhile, as they did on
    threads. ``current()`` is this engine inside ``run_on_loop`` and None elsewhere (worker
    threads, the CLI, the SDK), where the store keeps its ordinary engine; the async engine is
    made on first use, so those never load it.

    Its connections are in autocommit: most of what runs on the loop is one statement (the
    store's hot writes and reads); a write transaction sets the server's default level on its
    connection for its duration.

    Pooled async connections belong to the loop that opened them: when code runs on another
    loop (a test client starts one per request), the pool's connections are closed first.
    """

    def __init__(self, source: Engine) -> None:
        self.source = source
        self.engine: Engine | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @staticmethod
    def available(engine: Engine) -> bool:
        """Whether ``engine`` (PostgreSQL through psycopg) can have a ``LoopEngine``."""
        return engine.dialect.driver == "psycopg" and _loop_bridge_installed()

    def current(self) -> Engine | None:
        if not in_greenlet():
            return None
        loop = asyncio.get_running_loop()
        if self.engine is None:
            self.engine = self._make()
        elif loop is not self._loop:
            self.engine.dispose()  # closing a psycopg connection needs no loop of its own
        self._loop = loop
        return self.engine

    def _make(self) -> Engine:
        from sqlalchemy.ext.asyncio import create_async_engine

        pool = self.source.pool
        engine = create_async_engine(
            self.source.url.set(drivername="postgresql+psycopg_async"),
            connect_args=pg_connect_args(self.source.url),
            pool_size=pool.size() if isinstance(pool, QueuePool) else 10,
            max_overflow=10,
            isolation_level="AUTOCOMMIT",  # a write transaction asks for its level
        ).sync_engine
        _prepare_pg(engine)
        return engine

    def dispose(self) -> None:
        """Close the pooled connections; from a thread without a running loop, or on one."""
        if self.engine is None:
            return
        if in_greenlet():
            self.engine.dispose()
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # no loop here: close them on one of our own
            asyncio.run(run_on_loop(self.engine.dispose))
        else:  # called from a coroutine: let them go, unclosed until collected
            self.engine.dispose(close=False)


PING_AFTER_IDLE_S = 2.0


class IdlePing:
    """Ping a pooled connection on checkout only when it sat idle for ``idle_s`` seconds.

    ``pool_pre_ping`` pings on every checkout: one more round trip per request (~0.1 ms of a
    0.4 ms log-metric on PostgreSQL here). A connection in steady use has just proved itself;
    the ones a database restart or an idle timeout leaves dead are the idle ones, and a failed
    ping raises ``DisconnectionError``, on which the pool drops the connection and checks out
    another (SQLAlchemy's documented "pessimistic" handling, done with a checkout event).
    """

    def __init__(self, idle_s: float) -> None:
        self.idle_s = idle_s

    def attach(self, engine: Engine) -> None:
        event.listen(engine, "checkout", self._checkout)
        event.listen(engine, "checkin", self._checkin)

    @staticmethod
    def _checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["shipyard_idle_since"] = time.monotonic()

    def _checkout(self, dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("shipyard_idle_since")
        if since is None or time.monotonic() - since < self.idle_s:
            return  # new (just connected) or in steady use
        self.ping(dbapi_conn)

    @staticmethod
    def ping(dbapi_conn: Any) -> None:
        try:
            dbapi_conn.execute("SELECT 1")
            dbapi_conn.rollback()  # end the transaction the driver began for the ping
        except Exception as exc:  # any failure: the connection is not usable
            raise DisconnectionError(f"idle connection failed its ping: {exc}") from exc


class WalCheckpointer:
    """Copies a SQLite database's write-ahead log into the database file from a thread, and
    keeps the log file from growing without bound.

    By default the commit that takes the log past 1,000 pages checkpoints it, so one request in
    every ~25 (a run created with its data writes ~40 pages) copies the log and waits on an
    fsync: ~20% of the time of creating runs, measured in one process. A server's engine moves
    that threshold to ``SERVER_AUTOCHECKPOINT_PAGES`` (``make_engine(...,
    background_checkpoints=True)``) and runs this thread: a PASSIVE checkpoint every
    ``interval`` seconds, which never waits on readers or writers, so that under a moderate
    load commits seldom reach the threshold.

    Copying the log is not enough to keep it small. SQLite starts the log over only when a
    write begins after the whole log was copied; with several threads writing, the next write
    has nearly always begun while the last commit's checkpoint was still copying, so the log
    grew commit after commit though each checkpoint copied all of it: 50-160k pages (200-640
    MB) in 4 seconds of four threads creating runs, and on, without end, on a busy machine.
    So the thread also reads the log file's size every ``SIZE_CHECK_SECONDS`` (a ``stat``;
    the file never shrinks by itself, so its size is at least the log's length), and past
    ``cap_pages`` runs a TRUNCATE checkpoint instead: it holds this process's new writes at the
    engine's ``WriterGate`` (SQLite's write lock is not fair, so without the gate the
    checkpoint starved behind the writers), waits at most ``TRUNCATE_WAIT_MS`` for the write
    in progress and for readers to leave the log, copies what is left and empties the file
    (~5-20 ms here). One that a long reader makes fail is not tried again for ``interval``.
    Processes without it (the CLI, the SDK on a local file) checkpoint as SQLite does by
    default. Stopping mid-checkpoint is safe: SQLite resumes from the log on the next open.
    """

    TRUNCATE_WAIT_MS = 200
    SIZE_CHECK_SECONDS = 0.05

    def __init__(self, engine: Engine, interval: float = 0.5, cap_pages: int | None = None) -> None:
        self.engine = engine
        self.interval = interval
        self.cap_pages = 2 * SERVER_AUTOCHECKPOINT_PAGES if cap_pages is None else cap_pages
        self.last: tuple[int, int, int] | None = None  # (busy, log frames, checkpointed)
        self.truncations = 0  # TRUNCATE checkpoints that emptied the log
        database = engine.url.database if engine.dialect.name == "sqlite" else None
        self._log = Path(f"{database}-wal") if database and database != ":memory:" else None
        self._page_size = 4096  # SQLite's default; read from the database by each checkpoint
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="wal-checkpoint", daemon=True)

    def log_pages(self) -> int:
        """The log file's length in pages (a 32-byte header, then a 24-byte header and a page
        per frame); 0 without a file."""
        try:
            size = self._log.stat().st_size if self._log else 0
        except FileNotFoundError:
            return 0
        return max(0, size - 32) // (24 + self._page_size)

    def checkpoint(self) -> tuple[int, int, int]:
        """One round: ``truncate()`` when the log file is past ``cap_pages``, else PASSIVE."""
        if self.log_pages() > self.cap_pages:
            return self.truncate()
        self.last = self._run("PASSIVE")
        return self.last

    def truncate(self) -> tuple[int, int, int]:
        """A TRUNCATE checkpoint with this process's new writes held (see the class)."""
        gate = writer_gate(self.engine)
        with gate.held() if gate is not None else nullcontext():
            # Busy at once while a commit's own checkpoint runs; with writes held that ends soon.
            deadline = time.monotonic() + self.TRUNCATE_WAIT_MS / 1000
            while True:
                self.last = self._run("TRUNCATE", wait_ms=self.TRUNCATE_WAIT_MS)
                if self.last[0] == 0 or time.monotonic() >= deadline:
                    break
                time.sleep(0.001)
        if self.last[0] == 0:
            self.truncations += 1
        return self.last

    def _run(self, mode: str, wait_ms: int | None = None) -> tuple[int, int, int]:
        raw = self.engine.raw_connection()
        try:
            driver = raw.driver_connection
            assert driver is not None  # a pooled connection always has one
            self._page_size = int(driver.execute("PRAGMA page_size").fetchone()[0])
            if wait_ms is None:
                row = driver.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
            else:
                waited = int(driver.execute("PRAGMA busy_timeout").fetchone()[0])
                driver.execute(f"PRAGMA busy_timeout={wait_ms}")
                try:
                    row = driver.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
                finally:
                    driver.execute(f"PRAGMA busy_timeout={waited}")
        finally:
            raw.close()
        return (int(row[0]), int(row[1]), int(row[2]))

    def start(self) -> None:
        if self.engine.dialect.name == "sqlite":
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        tick = min(self.interval, self.SIZE_CHECK_SECONDS)
        due = time.monotonic() + self.interval  # the next round, whatever the log's size
        calm = 0.0  # no round for the log's size before this (a TRUNCATE failed)
        while not self._stop.wait(tick):
            now = time.monotonic()
            over = now >= calm and self.log_pages() > self.cap_pages
            if now < due and not over:
                continue
            due = now + self.interval
            try:
                busy = self.checkpoint()[0]
            except Exception:  # a locked or vanished file: the next round tries again
                _log.warning("WAL checkpoint failed", exc_info=True)
                busy = 1
            if over and busy:
                calm = now + self.interval
