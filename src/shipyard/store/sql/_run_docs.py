"""A finished run's data kept as JSON on its row, for the server's reads (``runs.data_json``).

Reading a page of 1,000 runs' metrics, params and tags from their three tables costs
PostgreSQL ~33 ms here (~25,000 rows probed, aggregated and sent); the same data read from one
text column of the rows the search already fetches costs ~4 ms. So the server's search keeps
each finished run's ``data`` object (``{"metrics": [...], "params": [...], "tags": [...]}``, as
``runs_json`` writes it) on the run's row the first time it reads the run, and reads it from
there afterwards. A run still running is not kept: it changes with every batch.

Correctness rests on two rules, both tested with two connections in the racing orders:

- **A write clears it.** Every write to a run's data sets ``data_json`` to NULL after (or in the
  same statement as) the write: the hot log-batch (``_pg``, ``_lite``) when the row it read
  holds JSON, the generic paths (renaming a run, deleting a tag) unconditionally.
- **A fill never keeps what a write in flight changes.** On PostgreSQL ``fill`` first locks the
  runs it will fill ``FOR UPDATE SKIP LOCKED`` (a lock every writer's ``FOR KEY SHARE``, or
  ``UPDATE``, conflicts with), then builds the JSON in a second statement, whose snapshot is
  taken after the locks: it sees every write committed before, a write still in flight holds a
  lock the fill skipped (that run is read from its tables this time), and a write that starts
  later waits for the fill to commit, finds the JSON and clears it. On SQLite the fill is a
  write transaction like any other (one writer at a time): it reads the runs' data and stores
  it with no write in between, and every later write finds and clears it.

The fill never waits for a writer (``SKIP LOCKED``; on SQLite the store tries the write lock
without waiting), so a read is never held up by a long write and cannot deadlock with one.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from sqlalchemy import Connection

from shipyard.entities import RunStatus
from shipyard.store.sql._rows import data_object, run_children

__all__ = ["KEPT_STATUSES", "fill"]

KEPT_STATUSES = frozenset(s.value for s in RunStatus if s.is_terminal)

_LOCK = """
SELECT run_uuid FROM runs
WHERE run_uuid = ANY(%(ids)b::text[]) AND data_json IS NULL AND status = ANY(%(kept)b::text[])
ORDER BY run_uuid
FOR UPDATE SKIP LOCKED
"""

# ``runs_json``'s ``data`` object, written by the database: sections in that order and left out
# when empty (``'..' || NULL`` is NULL, and ``concat_ws`` skips NULLs), pairs in key order, a
# NaN (stored as 0.0 with its flag) as "NaN", ±inf as PostgreSQL's JSON writes them
# ("Infinity", "-Infinity"), finite doubles in the shortest form that reads back the same
# (``extra_float_digits = 1``, set for the transaction).
_FILL = """
UPDATE runs r SET data_json = '{' || concat_ws(',',
  '"metrics":[' || (
    SELECT string_agg('{"key":' || to_json(m.key)::text || ',"value":'
      || CASE WHEN m.is_nan THEN '"NaN"' ELSE to_json(m.value)::text END
      || ',"timestamp":' || m.timestamp || ',"step":' || m.step || '}', ',' ORDER BY m.key)
    FROM latest_metrics m WHERE m.run_uuid = r.run_uuid) || ']',
  '"params":[' || (
    SELECT string_agg('{"key":' || to_json(p.key)::text || ',"value":'
      || to_json(p.value)::text || '}', ',' ORDER BY p.key)
    FROM params p WHERE p.run_uuid = r.run_uuid) || ']',
  '"tags":[' || (
    SELECT string_agg('{"key":' || to_json(t.key)::text || ',"value":'
      || coalesce(to_json(t.value)::text, 'null') || '}', ',' ORDER BY t.key)
    FROM tags t WHERE t.run_uuid = r.run_uuid) || ']'
) || '}'
WHERE r.run_uuid = ANY(%(ids)b::text[])
RETURNING r.run_uuid, r.data_json
"""


def fill(conn: Connection, run_ids: Sequence[str]) -> dict[str, str]:
    """Keep the JSON of those of ``run_ids`` that are finished, not kept yet and not being
    written; their JSON by run id. ``conn`` is in a write transaction (PostgreSQL: READ
    COMMITTED), which the caller commits: the locks are held until then."""
    if conn.dialect.name == "sqlite":
        return _fill_sqlite(conn, run_ids)
    kept = sorted(KEPT_STATUSES)
    locked = list(conn.exec_driver_sql(_LOCK, {"ids": list(run_ids), "kept": kept}).scalars())
    if not locked:
        return {}
    conn.exec_driver_sql("SET LOCAL extra_float_digits = 1")
    return {run_id: doc for run_id, doc in conn.exec_driver_sql(_FILL, {"ids": locked})}


_TO_FILL_SQLITE = (
    "SELECT run_uuid FROM runs WHERE run_uuid IN (SELECT value FROM json_each(?)) "
    "AND data_json IS NULL AND status IN (SELECT value FROM json_each(?))"
)


def _fill_sqlite(conn: Connection, run_ids: Sequence[str]) -> dict[str, str]:
    """SQLite's JSON writes a double in 15 digits, which does not always read back the same:
    the JSON is built here, by ``runs_json``'s own code (``data_object``), and stored."""
    ids = orjson.dumps(list(run_ids)).decode()
    kept = orjson.dumps(sorted(KEPT_STATUSES)).decode()
    todo = list(conn.exec_driver_sql(_TO_FILL_SQLITE, (ids, kept)).scalars())
    if not todo:
        return {}
    children = run_children(conn, todo, wire_form=True)
    docs = {run_id: orjson.dumps(data_object(children, run_id)).decode() for run_id in todo}
    sql = "UPDATE runs SET data_json = ? WHERE run_uuid = ?"
    conn.exec_driver_sql(sql, [(doc, run_id) for run_id, doc in docs.items()])
    return docs
