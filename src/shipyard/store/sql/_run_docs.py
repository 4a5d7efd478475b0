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
tries the write lock without waiting), so a read is never held up by a long write. Each fill
also stamps its runs with a new random generation (``runs.wire_gen``), which lets a process
hold the bodies it has read (``_kept_bodies``).
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, Select, Update, bindparam, false, select, update

from shipyard.entities import RunStatus
from shipyard.store.sql._dialect import upsert
from shipyard.store.sql._kept_bodies import Filled
from shipyard.store.sql._rows import among, id_params, run_bodies
from shipyard.store.sql._schema import run_wire, runs

__all__ = ["KEPT_STATUSES", "fill"]

KEPT_STATUSES = frozenset(s.value for s in RunStatus if s.is_terminal)


@functools.cache
def _lock_statement(dialect: str) -> Select[Any]:
    """The runs among ``ids`` to keep: finished and not kept; on PostgreSQL locked ``FOR
    UPDATE SKIP LOCKED`` (SQLite has no row locks: its fill holds the write lock)."""
    return (
        select(runs.c.run_uuid)
        .where(
            among(dialect, runs.c.run_uuid),
            runs.c.wire_kept == false(),
            runs.c.status.in_(sorted(KEPT_STATUSES)),
        )
        .order_by(runs.c.run_uuid)
        .with_for_update(skip_locked=True)
    )


@functools.cache
def _mark_statement(dialect: str) -> Update:
    return (
        update(runs)
        .where(among(dialect, runs.c.run_uuid))
        .values(wire_kept=True, wire_gen=bindparam("gen"))
    )


def fill(conn: Connection, run_ids: Sequence[str]) -> Filled:
    """Keep the JSON of those of ``run_ids`` that are finished, not kept yet and not being
    written; their JSON by run id, and the new generation their rows are stamped with
    (``_kept_bodies``). ``conn`` is in a write transaction (PostgreSQL: READ COMMITTED), which
    the caller commits: the locks are held until then. The JSON is what ``runs_json`` writes
    for a run, without ``info``, by the same code (``run_bodies``)."""
    dialect = conn.dialect.name
    todo = list(conn.scalars(_lock_statement(dialect), id_params(list(run_ids))))
    if not todo:
        return Filled(0, {})
    # (after the locks: on PostgreSQL these reads are new statements, with new snapshots)
    docs = {rid: orjson.dumps(body).decode() for rid, body in run_bodies(conn, todo).items()}
    stmt = upsert(conn, run_wire)
    stmt = stmt.on_conflict_do_update(
        index_elements=["run_uuid"], set_={"body": stmt.excluded.body}
    )
    conn.execute(stmt, [{"run_uuid": rid, "body": doc} for rid, doc in docs.items()])
    gen = secrets.randbits(63)  # (a process's random state may be its parent's, forked)
    conn.execute(_mark_statement(dialect), {**id_params(list(docs)), "gen": gen})
    return Filled(gen, docs)
