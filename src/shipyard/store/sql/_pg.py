"""PostgreSQL's hot writes as single statements, run in autocommit: one round trip each.

A write transaction through the driver costs a round trip per statement plus ``BEGIN`` and
``COMMIT`` (a run created with its data and finished took 17 here). Each statement below does
a whole store call with data-modifying ``WITH`` clauses: the run or experiment row is locked and
checked first, every change is guarded by that check, and the statement answers what the caller
needs to raise the same errors as the transactional path. A statement is atomic on its own, so
a batch is still stored whole or not at all.

Points go in without ``ON CONFLICT`` first: PostgreSQL's speculative insertion costs a second
index visit per row, about half the insert. When a point was already stored (a client's retry)
or repeats within the batch, the statement fails with a unique violation and
``SqlStore.log_batch`` runs it again with ``dedupe``. The run is locked ``FOR KEY SHARE`` once
per batch, which is what the metric history's foreign key took per point (migration 0006).

Arrays go in binary (``%(name)b``), packed by ``_pg_arrays`` (psycopg's text form of an array
quotes every element with a regular expression, and its binary form is built element by element).

The statements run on a driver cursor (``statement``), not through SQLAlchemy's ``Connection``
(its execution context, result and events cost ~45 us of a one-point write's ~250 in process),
or, for a write that also touches other tables, on the store's write transaction's connection.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from shipyard.entities import RUN_NAME_TAG, Metric
from shipyard.store.sql._pg_arrays import bools, float8s, int8s, texts
from shipyard.store.sql._rows import RUN_COLUMNS_SQL, RunRow
from shipyard.store.sql._writes import point_columns

__all__ = ["create_run", "log_batch", "statement", "update_run"]


@contextmanager
def statement(engine: Engine) -> Iterator[Any]:
    """A driver cursor on one of ``engine``'s pooled connections, in autocommit (each statement
    its own transaction). The driver's errors come out as SQLAlchemy's; one that shows the
    connection dead drops it from the pool, as SQLAlchemy's ``Connection`` does."""
    dbapi = engine.dialect.loaded_dbapi
    pooled = engine.raw_connection()
    try:
        conn: Any = pooled.dbapi_connection  # psycopg's, or SQLAlchemy's adapter of the async one
        switched = not conn.autocommit  # the loop's engine is in autocommit already
        if switched:
            conn.autocommit = True
        cur = conn.cursor()
        try:
            yield cur
        except dbapi.Error as exc:
            gone = engine.dialect.is_disconnect(exc, conn, cur)
            if gone:
                switched = False
                pooled.invalidate(exc)
            raise DBAPIError.instance(
                None, None, exc, dbapi.Error, connection_invalidated=gone, dialect=engine.dialect
            ) from exc
        finally:
            cur.close()
            if switched:
                conn.autocommit = False
    finally:
        pooled.close()


def _first(conn: Any, sql: str, args: dict[str, Any]) -> Any:
    """The first row of ``sql`` on a ``statement`` cursor, or on a ``Connection`` (a write
    transaction's, for a batch whose points also go to a logged model's table)."""
    if isinstance(conn, Connection):
        return conn.exec_driver_sql(sql, args).first()
    conn.execute(sql, args)
    return conn.fetchone()


_ACTIVE = "WHERE EXISTS (SELECT 1 FROM ok)"
_POINTS = (
    "unnest(%(keys)b::text[], %(stamps)b::bigint[], %(steps)b::bigint[], "
    "%(values)b::float8[], %(nans)b::bool[])"
)
_LATEST = (
    "unnest(%(l_keys)b::text[], %(l_steps)b::bigint[], %(l_stamps)b::bigint[], "
    "%(l_values)b::float8[], %(l_nans)b::bool[])"
)

# Params: a stored param with another value ("clash") stops the whole batch, and the statement
# answers the first such key with its stored value for the error message. A run whose wire form
# is kept (``_run_docs``) has its ``wire_kept`` cleared in the same statement: ``run`` sees the
# row as the search's fill left it (a fill holds the row ``FOR UPDATE`` until it commits, so
# this lock waits for it and gets the newest version), and the run's row is rewritten only then.
_BATCH = f"""
WITH run AS (
  SELECT lifecycle_stage, wire_kept AS kept FROM runs
  WHERE run_uuid = %(run)s::text FOR KEY SHARE
),
given AS (SELECT * FROM unnest(%(p_keys)b::text[], %(p_values)b::text[]) AS g(key, value)),
clash AS (
  SELECT p.key, p.value FROM params p JOIN given g ON g.key = p.key
  WHERE p.run_uuid = %(run)s::text AND p.value <> g.value ORDER BY p.key LIMIT 1
),
ok AS (SELECT 1 FROM run WHERE lifecycle_stage = 'active' AND NOT EXISTS (SELECT 1 FROM clash)),
new_params AS (
  INSERT INTO params (run_uuid, key, value) SELECT %(run)s::text, key, value FROM given {_ACTIVE}
  ON CONFLICT DO NOTHING
),
new_tags AS (
  INSERT INTO tags (run_uuid, key, value)
  SELECT %(run)s::text, key, value
  FROM unnest(%(t_keys)b::text[], %(t_values)b::text[]) AS t(key, value)
  {_ACTIVE}
  ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value
),
touched AS (
  UPDATE runs SET name = coalesce(%(name)s::text, name), wire_kept = false
  WHERE run_uuid = %(run)s::text AND EXISTS (SELECT 1 FROM ok)
    AND (%(name)s::text IS NOT NULL OR (SELECT kept FROM run))
),
points AS (
  INSERT INTO metrics (run_uuid, key, timestamp, step, value, is_nan)
  SELECT %(run)s::text, * FROM {_POINTS} {_ACTIVE} {{dedupe}}
),
latest AS (
  INSERT INTO latest_metrics AS lm (run_uuid, key, step, timestamp, value, is_nan)
  SELECT %(run)s::text, * FROM {_LATEST} {_ACTIVE}
  ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value, is_nan = excluded.is_nan,
    timestamp = excluded.timestamp, step = excluded.step
  WHERE (excluded.step, excluded.timestamp, excluded.value) > (lm.step, lm.timestamp, lm.value)
)
SELECT (SELECT lifecycle_stage FROM run), (SELECT key FROM clash), (SELECT value FROM clash)
"""
_BATCH_FIRST_TRY = _BATCH.format(dedupe="")
_BATCH_DEDUPE = _BATCH.format(dedupe="ON CONFLICT DO NOTHING")

# One point and nothing else (``runs/log-metric``): the same checks and writes with scalar
# parameters. PostgreSQL plans it in less time than the batch's unnests (~30 us less a call
# here), and no array is packed. One row's speculative insertion costs next to nothing, so the
# point always goes in with ``ON CONFLICT DO NOTHING`` and there is no second try.
_POINT = """
WITH run AS (
  SELECT lifecycle_stage, wire_kept AS kept FROM runs
  WHERE run_uuid = %(run)s::text FOR KEY SHARE
),
ok AS (SELECT 1 FROM run WHERE lifecycle_stage = 'active'),
touched AS (
  UPDATE runs SET wire_kept = false
  WHERE run_uuid = %(run)s::text AND EXISTS (SELECT 1 FROM ok) AND (SELECT kept FROM run)
),
point AS (
  INSERT INTO metrics (run_uuid, key, timestamp, step, value, is_nan)
  SELECT %(run)s::text, %(key)s::text, %(stamp)s::bigint, %(step)s::bigint,
         %(value)s::float8, %(nan)s::bool
  WHERE EXISTS (SELECT 1 FROM ok)
  ON CONFLICT DO NOTHING
),
latest AS (
  INSERT INTO latest_metrics AS lm (run_uuid, key, step, timestamp, value, is_nan)
  SELECT %(run)s::text, %(key)s::text, %(step)s::bigint, %(stamp)s::bigint,
         %(value)s::float8, %(nan)s::bool
  WHERE EXISTS (SELECT 1 FROM ok)
  ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value, is_nan = excluded.is_nan,
    timestamp = excluded.timestamp, step = excluded.step
  WHERE (excluded.step, excluded.timestamp, excluded.value) > (lm.step, lm.timestamp, lm.value)
)
SELECT (SELECT lifecycle_stage FROM run), NULL, NULL
"""


def _log_point(conn: Any, run_id: str, point: Metric) -> tuple[str | None, None, None]:
    value = float(point.value)
    nan = value != value
    args = {
        "run": run_id,
        "key": point.key,
        "stamp": point.timestamp,
        "step": point.step,
        "value": 0.0 if nan else value,
        "nan": nan,
    }
    stage, _, _ = _first(conn, _POINT, args)
    return stage, None, None


def log_batch(
    conn: Any,
    run_id: str,
    metrics: Sequence[Metric],
    params: dict[str, str],
    tags: dict[str, str],
    dedupe: bool,
) -> tuple[str | None, str | None, str | None]:
    """(run's stage or None, a param key whose stored value differs, that value); nothing is
    written unless the run is active and no param clashes. Without ``dedupe`` a point already
    stored raises ``IntegrityError``."""
    if len(metrics) == 1 and not params and not tags:
        return _log_point(conn, run_id, metrics[0])
    points = point_columns(metrics)
    l_keys, l_steps, l_stamps, l_values, l_nans = points.latest()
    args: dict[str, Any] = {
        "run": run_id,
        "p_keys": texts(list(params)),
        "p_values": texts(list(params.values())),
        "t_keys": texts(list(tags)),
        "t_values": texts(list(tags.values())),
        "name": tags.get(RUN_NAME_TAG),
        "keys": texts(points.keys),
        "stamps": int8s(points.stamps),
        "steps": int8s(points.steps),
        "values": float8s(points.values),
        "nans": bools(points.nans),
        "l_keys": texts(l_keys),
        "l_steps": int8s(l_steps),
        "l_stamps": int8s(l_stamps),
        "l_values": float8s(l_values),
        "l_nans": bools(l_nans),
    }
    sql = _BATCH_DEDUPE if dedupe else _BATCH_FIRST_TRY
    stage, key, old = _first(conn, sql, args)
    return stage, key, old


_CREATE_RUN = """
WITH exp AS (
  SELECT experiment_id, artifact_location, lifecycle_stage FROM experiments
  WHERE experiment_id = %(exp)s::integer FOR KEY SHARE
),
made AS (
  INSERT INTO runs (run_uuid, name, experiment_id, user_id, status, start_time, artifact_uri,
                    lifecycle_stage)
  SELECT %(run)s::text, %(name)s::text, experiment_id, %(user)s::text, %(status)s::text,
         %(start)s::bigint,
         rtrim(artifact_location, '/') || '/' || %(run)s::text || '/artifacts', 'active'
  FROM exp WHERE lifecycle_stage = 'active'
  RETURNING run_uuid
),
tagged AS (
  INSERT INTO tags (run_uuid, key, value)
  SELECT made.run_uuid, t.key, t.value
  FROM made, unnest(%(t_keys)b::text[], %(t_values)b::text[]) AS t(key, value)
)
SELECT artifact_location, lifecycle_stage FROM exp
"""


def create_run(conn: Any, experiment: int, values: dict[str, Any], tags: dict[str, str]) -> Any:
    """The experiment's (artifact_location, lifecycle_stage), or None when there is none; the
    run (``values``: run_uuid, name, user_id, status, start_time) and its tags are inserted
    only when the experiment is active."""
    args = {
        "exp": experiment,
        "run": values["run_uuid"],
        "name": values["name"],
        "user": values["user_id"],
        "status": values["status"],
        "start": values["start_time"],
        "t_keys": texts(list(tags)),
        "t_values": texts(list(tags.values())),
    }
    return _first(conn, _CREATE_RUN, args)


# ``policy``: the run's experiment carries the tag ``guard`` (none when it is NULL); then nothing
# changes and the caller checks the policy the slow way (``update_run_info_unless``).
_UPDATE_RUN = f"""
WITH run AS (SELECT {RUN_COLUMNS_SQL} FROM runs WHERE run_uuid = %(run)s::text FOR NO KEY UPDATE),
policy AS (
  SELECT 1 FROM experiment_tags
  WHERE key = %(guard)s::text AND experiment_id = (SELECT experiment_id FROM run)
),
changed AS (
  UPDATE runs SET status = coalesce(%(status)s::text, status),
                  end_time = coalesce(%(end)s::bigint, end_time)
  WHERE run_uuid = %(run)s::text AND EXISTS (SELECT 1 FROM run WHERE lifecycle_stage = 'active')
    AND NOT EXISTS (SELECT 1 FROM policy)
)
SELECT {RUN_COLUMNS_SQL}, EXISTS (SELECT 1 FROM policy) AS blocked FROM run
"""


def update_run(
    conn: Any, run_id: str, status: str | None, end_time: int | None, guard: str | None
) -> tuple[RunRow | None, bool]:
    """(The run's row (``RUN_COLUMNS``) as it was, or None when there is none; whether its
    experiment has the tag ``guard``). Status and end time are changed only when the run is
    active and its experiment has no such tag."""
    args = {"run": run_id, "status": status, "end": end_time, "guard": guard}
    row = _first(conn, _UPDATE_RUN, args)
    return (None, False) if row is None else (RunRow(*row[:-1]), bool(row[-1]))
