"""A finished run's wire form kept beside it, for the server's search (``run_wire``).

Reading a page of 1,000 runs' metrics, params, tags, inputs and outputs from their five
tables costs PostgreSQL ~33 ms here (~25,000 rows probed, aggregated and sent); reading the
same 1,000 runs' JSON from one table by primary key costs a few. So the server's search keeps
each finished run's body (``{"data": ..., "inputs": ..., "outputs": ...}``, exactly as
``runs_json`` writes it) in ``run_wire`` the first time it reads the run, sets the run's
``wire_kept``, and reads the body from there while the flag holds; ``info`` always comes from
the run's row. A run still running is not kept: it changes with every batch.

Correctness rests on two rules, both tested with two connections in the racing orders:

- **A write clears the flag.** Every write to a run's data, inputs or outputs sets
  ``wire_kept`` to false after (or in the same statement as) the write: the hot log-batch
  (``_pg``, ``_lite``) when the row it read has it set; renaming a run, deleting a tag,
  logging inputs or outputs unconditionally.
- **A fill never keeps what a write in flight changes.** On PostgreSQL ``fill`` first locks the
  runs it will fill ``FOR UPDATE SKIP LOCKED`` (a lock every writer's ``FOR KEY SHARE``, or
  ``UPDATE``, conflicts with), then reads their data in new statements, whose snapshots are
  taken after the locks: they see every write committed before, a write still in flight holds
  a lock the fill skipped (that run is read from its tables this time), and a write that starts
  later waits for the fill to commit, finds the flag set and clears it. On SQLite the fill is a
  write transaction like any other (one writer at a time): it reads the runs' data and stores
  it with no write in between, and every later write finds and clears the flag.

A search reads the flag with the runs and the bodies in a second statement: a body can only
have been replaced in between by a newer fill, so the answer is the run as it was at the first
statement or later. The fill never waits for a writer (``SKIP LOCKED``; on SQLite the store
tries the write lock without waiting), so a read is never held up by a long write.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from sqlalchemy import Connection

from shipyard.entities import RunStatus
from shipyard.store.sql._rows import run_bodies

__all__ = ["KEPT_STATUSES", "fill"]

KEPT_STATUSES = frozenset(s.value for s in RunStatus if s.is_terminal)

_LOCK = """
SELECT run_uuid FROM runs
WHERE run_uuid = ANY(%(ids)b::text[]) AND NOT wire_kept AND status = ANY(%(kept)b::text[])
ORDER BY run_uuid
FOR UPDATE SKIP LOCKED
"""
_STORE = """
WITH bodies AS (
  INSERT INTO run_wire (run_uuid, body)
  SELECT * FROM unnest(%(ids)b::text[], %(bodies)b::text[])
  ON CONFLICT (run_uuid) DO UPDATE SET body = excluded.body
)
UPDATE runs SET wire_kept = true WHERE run_uuid = ANY(%(ids)b::text[])
"""
_TO_FILL_SQLITE = (
    "SELECT run_uuid FROM runs WHERE run_uuid IN (SELECT value FROM json_each(?)) "
    "AND NOT wire_kept AND status IN (SELECT value FROM json_each(?))"
)
_STORE_SQLITE = (
    "INSERT INTO run_wire (run_uuid, body) VALUES (?, ?) "
    "ON CONFLICT (run_uuid) DO UPDATE SET body = excluded.body"
)
_MARK_SQLITE = "UPDATE runs SET wire_kept = 1 WHERE run_uuid = ?"


def fill(conn: Connection, run_ids: Sequence[str]) -> dict[str, str]:
    """Keep the JSON of those of ``run_ids`` that are finished, not kept yet and not being
    written; their JSON by run id. ``conn`` is in a write transaction (PostgreSQL: READ
    COMMITTED), which the caller commits: the locks are held until then. The JSON is what
    ``runs_json`` writes for a run, without ``info``, by the same code (``run_bodies``)."""
    kept = sorted(KEPT_STATUSES)
    if conn.dialect.name == "postgresql":
        locked = conn.exec_driver_sql(_LOCK, {"ids": list(run_ids), "kept": kept})
        todo = list(locked.scalars())
    else:
        ids = orjson.dumps(list(run_ids)).decode()
        found = conn.exec_driver_sql(_TO_FILL_SQLITE, (ids, orjson.dumps(kept).decode()))
        todo = list(found.scalars())
    if not todo:
        return {}
    # (after the locks: on PostgreSQL these reads are new statements, with new snapshots)
    docs = {rid: orjson.dumps(body).decode() for rid, body in run_bodies(conn, todo).items()}
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(_STORE, {"ids": list(docs), "bodies": list(docs.values())})
    else:
        conn.exec_driver_sql(_STORE_SQLITE, list(docs.items()))
        conn.exec_driver_sql(_MARK_SQLITE, [(rid,) for rid in docs])
    return docs
