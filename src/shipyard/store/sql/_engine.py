"""Engines for the tracking database, tuned per dialect.

SQLite gets WAL (readers never block the writer), ``synchronous=NORMAL`` (durable at each
checkpoint and crash-safe: a transaction is all there or not at all) and a busy timeout so several
worker processes can share one file.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError

__all__ = ["WalCheckpointer", "make_engine", "normalise_db_uri"]

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


def _sqlite_begin(conn: Connection) -> None:
    # A write takes the write lock up front: a deferred transaction that later upgrades can fail
    # with "database is locked" without waiting on the busy timeout.
    immediate = conn.get_execution_options().get("shipyard_write", False)
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
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    # UTF-8 whatever the database's encoding: ``_pg_arrays.texts`` packs text that way.
    from shipyard.store.sql import _pg_arrays  # numpy: loaded for PostgreSQL engines only

    engine = create_engine(
        url, connect_args={"client_encoding": "utf8"}, pool_size=10, max_overflow=20
    )
    event.listen(engine, "connect", _pg_arrays.register)
    IdlePing(PING_AFTER_IDLE_S).attach(engine)
    return engine


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
    """Copies a SQLite database's write-ahead log into the database file from a thread.

    By default the commit that takes the log past 1,000 pages checkpoints it, so one request in
    every ~25 (a run created with its data writes ~40 pages) copies the log and waits on an
    fsync: ~20% of the time of creating runs, measured in one process. A server's engine moves
    that threshold to ``SERVER_AUTOCHECKPOINT_PAGES`` (``make_engine(...,
    background_checkpoints=True)``) and runs this thread: a PASSIVE checkpoint every
    ``interval`` seconds, which never waits on readers or writers, so that under a moderate
    load commits seldom reach the threshold.
    Processes without it (the CLI, the SDK on a local file) checkpoint as SQLite does by default.
    Stopping mid-checkpoint is safe: SQLite resumes from the log on the next open.
    """

    def __init__(self, engine: Engine, interval: float = 0.5) -> None:
        self.engine = engine
        self.interval = interval
        self.last: tuple[int, int, int] | None = None  # (busy, log frames, checkpointed)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="wal-checkpoint", daemon=True)

    def checkpoint(self) -> tuple[int, int, int]:
        raw = self.engine.raw_connection()
        try:
            driver = raw.driver_connection
            assert driver is not None  # a pooled connection always has one
            row = driver.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        finally:
            raw.close()
        self.last = (int(row[0]), int(row[1]), int(row[2]))
        return self.last

    def start(self) -> None:
        if self.engine.dialect.name == "sqlite":
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.checkpoint()
            except Exception:  # a locked or vanished file: the next round tries again
                _log.warning("WAL checkpoint failed", exc_info=True)
