"""SQLite's hot writes straight through the driver, inside the store's write transaction.

SQLite runs in process, so a statement costs what the library does with it: a few
microseconds for these. Going through SQLAlchemy Core adds ~30 us per statement (cache key,
compiled parameters, result set-up, events), which was a third of creating a run with its data
and finishing it. These functions take the ``sqlite3`` connection of a ``transaction`` (or
the store's ``Connection``, whose transaction began with ``BEGIN IMMEDIATE``), run plain SQL on
it, and answer what ``_pg``'s single statements answer, so ``SqlStore`` raises the same errors
for both backends.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from itertools import repeat
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from shipyard.entities import RUN_NAME_TAG, Metric
from shipyard.store.sql._engine import writer_gate
from shipyard.store.sql._rows import RUN_COLUMNS_SQL, RunRow
from shipyard.store.sql._writes import point_columns, run_artifact_uri

__all__ = ["create_run", "log_batch", "transaction", "update_run"]


P = ParamSpec("P")
R = TypeVar("R")


def _as_sqlalchemy_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """The driver's errors as SQLAlchemy raises them (``OperationalError`` for a locked file,
    ``IntegrityError``...), so callers and the server's error mapping see one family."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except sqlite3.Error as exc:
            raise DBAPIError.instance(fn.__name__, None, exc, sqlite3.Error) from exc

    return wrapper


@_as_sqlalchemy_errors
def _run_sql(db: sqlite3.Connection, sql: str) -> None:
    db.execute(sql)


@contextmanager
def transaction(engine: Engine) -> Iterator[sqlite3.Connection]:
    """A write transaction (``BEGIN IMMEDIATE``) on a pooled connection's ``sqlite3``
    connection, committed when the block ends and rolled back when it raises; the driver's
    errors come out as SQLAlchemy's. The same transaction as the store's ``_write`` without
    SQLAlchemy's ``Connection``, its events and its execution of ``BEGIN`` (~0.03 ms, half of
    a one-point log-metric's write)."""
    if (gate := writer_gate(engine)) is not None:
        gate.passing()
    pooled = engine.raw_connection()
    try:
        db = pooled.driver_connection
        assert isinstance(db, sqlite3.Connection)
        _run_sql(db, "BEGIN IMMEDIATE")
        try:
            yield db
            _run_sql(db, "COMMIT")
        except BaseException:
            if db.in_transaction:
                db.rollback()
            raise
    finally:
        pooled.close()


def _db(conn: Connection | sqlite3.Connection) -> sqlite3.Connection:
    if isinstance(conn, sqlite3.Connection):
        return conn
    db = conn.connection.driver_connection
    assert isinstance(db, sqlite3.Connection)
    return db


_INSERT_RUN = (
    "INSERT INTO runs (run_uuid, name, experiment_id, user_id, status, start_time, "
    "artifact_uri, lifecycle_stage) VALUES (?, ?, ?, ?, ?, ?, ?, 'active')"
)


@_as_sqlalchemy_errors
def create_run(
    conn: Connection | sqlite3.Connection,
    experiment: int,
    values: dict[str, Any],
    tags: dict[str, str],
) -> Any:
    """The experiment's (artifact_location, lifecycle_stage), or None when there is none; the
    run and its tags are inserted only when the experiment is active."""
    db = _db(conn)
    sql = "SELECT artifact_location, lifecycle_stage FROM experiments WHERE experiment_id = ?"
    exp = db.execute(sql, (experiment,)).fetchone()
    if exp is None or exp[1] != "active":
        return exp
    run_id = values["run_uuid"]
    uri = run_artifact_uri(exp[0], run_id)
    row = (run_id, values["name"], experiment, values["user_id"], values["status"])
    db.execute(_INSERT_RUN, (*row, values["start_time"], uri))
    sql = "INSERT INTO tags (run_uuid, key, value) VALUES (?, ?, ?)"
    db.executemany(sql, [(run_id, k, v) for k, v in tags.items()])
    return exp


_UPSERT_TAG = (
    "INSERT INTO tags (run_uuid, key, value) VALUES (?, ?, ?) "
    "ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value"
)
_INSERT_POINT = (
    "INSERT INTO metrics (run_uuid, key, timestamp, step, value, is_nan) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)
_UPSERT_LATEST = (
    "INSERT INTO latest_metrics AS lm (run_uuid, key, step, timestamp, value, is_nan) "
    "VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value, "
    "is_nan = excluded.is_nan, timestamp = excluded.timestamp, step = excluded.step "
    "WHERE (excluded.step, excluded.timestamp, excluded.value) > (lm.step, lm.timestamp, lm.value)"
)


@_as_sqlalchemy_errors
def log_batch(
    conn: Connection | sqlite3.Connection,
    run_id: str,
    metrics: Sequence[Metric],
    params: dict[str, str],
    tags: dict[str, str],
    dedupe: bool,
) -> tuple[str | None, str | None, str | None]:
    """(run's stage or None, a param key whose stored value differs, that value); nothing is
    written unless the run is active and no param clashes. Points always collapse on SQLite
    (``dedupe`` is for PostgreSQL's first try)."""
    db = _db(conn)
    sql = "SELECT lifecycle_stage, wire_kept FROM runs WHERE run_uuid = ?"
    found = db.execute(sql, (run_id,)).fetchone()
    if found is None or found[0] != "active":
        return (None if found is None else found[0]), None, None
    stage, kept = found
    if params:
        marks = ", ".join("?" * len(params))
        sql = f"SELECT key, value FROM params WHERE run_uuid = ? AND key IN ({marks})"
        for key, old in sorted(db.execute(sql, (run_id, *params)).fetchall()):
            if old != params[key]:
                return stage, key, old
        sql = "INSERT INTO params (run_uuid, key, value) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
        db.executemany(sql, [(run_id, k, v) for k, v in params.items()])
    if tags:
        db.executemany(_UPSERT_TAG, [(run_id, k, v) for k, v in tags.items()])
    name = tags.get(RUN_NAME_TAG)
    if name is not None or kept:  # a new name, or kept JSON to clear (``_run_docs``)
        sql = "UPDATE runs SET name = coalesce(?, name), wire_kept = 0 WHERE run_uuid = ?"
        db.execute(sql, (name, run_id))
    if metrics:
        p = point_columns(metrics)
        run = repeat(run_id)  # endless, hence strict=False; the columns are of one length
        points = zip(run, p.keys, p.stamps, p.steps, p.values, p.nans, strict=False)
        db.executemany(_INSERT_POINT, points)
        db.executemany(_UPSERT_LATEST, zip(run, *p.latest(), strict=False))
    return stage, None, None


_RUN = f"SELECT {RUN_COLUMNS_SQL} FROM runs WHERE run_uuid = ?"


_POLICY = "SELECT 1 FROM experiment_tags WHERE experiment_id = ? AND key = ?"


@_as_sqlalchemy_errors
def update_run(
    conn: Connection | sqlite3.Connection,
    run_id: str,
    status: str | None,
    end_time: int | None,
    guard: str | None,
) -> tuple[Any, bool]:
    """What ``_pg.update_run`` answers: (the run's row as it was or None, whether its
    experiment has the tag ``guard``); status and end time are changed only when the run is
    active and its experiment has no such tag."""
    db = _db(conn)
    found = db.execute(_RUN, (run_id,)).fetchone()
    if found is None:
        return None, False
    row = RunRow(*found)
    blocked = guard is not None and bool(db.execute(_POLICY, (row.experiment_id, guard)).fetchone())
    if row.lifecycle_stage == "active" and not blocked:
        sql = (
            "UPDATE runs SET status = coalesce(?, status), end_time = coalesce(?, end_time) "
            "WHERE run_uuid = ?"
        )
        db.execute(sql, (status, end_time, run_id))
    return row, blocked
