"""Run search in the SQL store: a mixin over ``SqlStore``'s engine and transactions.

The search runs in the database (``_search``); the server's read path (``search_runs_json``)
answers in wire form and keeps a finished run's wire form the first time it reads it
(``_run_docs``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from shipyard.entities import Run, ViewType
from shipyard.store._protocol import Page, RunQuery
from shipyard.store.search import decode_page_token, encode_page_token
from shipyard.store.sql import _run_docs, _search
from shipyard.store.sql._kept_bodies import Filled, KeptBodies
from shipyard.store.sql._rows import RunJson, load_runs, runs_json

__all__ = ["RunSearchStore"]

_log = logging.getLogger(__name__)


def _refuses_writes(exc: DBAPIError) -> bool:
    """A read-only transaction or role (PostgreSQL 25006, 42501) or a read-only SQLite file."""
    orig = exc.orig
    return getattr(orig, "sqlstate", None) in ("25006", "42501") or "readonly" in str(orig)


class RunSearchStore:
    """The run-search half of ``SqlStore``; it relies on the host for these members."""

    engine: Engine
    _postgres: bool
    _keep_runs: bool  # finished runs' wire form kept (``_run_docs``)
    _held: KeptBodies  # the kept bodies this process has read

    if TYPE_CHECKING:

        def _read(self) -> AbstractContextManager[Connection]: ...
        def _write(self) -> AbstractContextManager[Connection]: ...

    @contextmanager
    def _fill_write(self) -> Iterator[Connection]:
        """``_write`` for ``_run_docs.fill``: on SQLite it does not wait for the write lock (a
        read is not held up by another write; it keeps nothing this time)."""
        if self._postgres:
            with self._write() as conn:
                yield conn
            return
        with self.engine.connect() as conn:
            db = conn.connection.driver_connection
            assert db is not None
            waited = db.execute("PRAGMA busy_timeout").fetchone()[0]
            db.execute("PRAGMA busy_timeout = 0")
            try:
                conn.execution_options(shipyard_write=True)
                with conn.begin():
                    yield conn
            finally:
                db.execute(f"PRAGMA busy_timeout = {int(waited)}")

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> Page[Run]:
        query = RunQuery(
            experiment_ids, filter_string, view_type, max_results, order_by, page_token
        )
        offset, phases = self._search_plan(query)
        with self._read() as conn:
            rows = _search.fetch_phases(conn, phases, offset, query.max_results + 1)
            items = load_runs(conn, rows[: query.max_results])
        return Page(items, self._next_token(offset, query.max_results, rows))

    def search_runs_json(self, query: RunQuery) -> Page[RunJson]:
        """``search_runs`` with each run already in its wire form (the server's read path).

        A finished run's wire form is kept (``run_wire``) the first time a search reads it,
        and read from there afterwards (``_run_docs``)."""
        offset, phases = self._search_plan(query)
        with self._read() as conn:
            rows = _search.fetch_phases(conn, phases, offset, query.max_results + 1)
            page = rows[: query.max_results]
            token = self._next_token(offset, query.max_results, rows)
            todo = self._to_keep(page)
            if not todo:  # the common case: one read
                return Page(runs_json(conn, page, self._held), token)
        filled = self._keep_run_data(todo)
        with self._read() as conn:
            return Page(runs_json(conn, page, self._held, filled), token)

    def _to_keep(self, rows: Sequence[Any]) -> list[str]:
        """The finished runs among ``rows`` whose data is not kept as JSON yet."""
        if not self._keep_runs:
            return []
        kept = _run_docs.KEPT_STATUSES
        return [r.run_uuid for r in rows if not r.wire_kept and r.status in kept]

    def _keep_run_data(self, todo: list[str]) -> Filled | None:
        """Keep those runs' data as JSON; what was kept (None: nothing). Never fails the read: a
        database that refuses writes (a read-only role, replica or file) turns keeping off for
        this store with one warning; SQLite's write lock held elsewhere skips it this time;
        any other error is logged and skips it this time."""
        try:
            with self._fill_write() as conn:
                return _run_docs.fill(conn, todo)
        except DBAPIError as exc:
            if _refuses_writes(exc):
                self._keep_runs = False
                _log.warning(
                    "runs' data is not kept as JSON from now on: the database said %s", exc.orig
                )
            elif self._postgres or "locked" not in str(exc.orig):
                _log.warning("runs' data not kept as JSON this time: %s", exc.orig)
            return None

    def _search_plan(self, query: RunQuery) -> tuple[int, list[Any]]:
        """The search's offset and its queries (``_search.run_query``)."""
        offset = decode_page_token(query.page_token)
        phases = _search.run_query(
            _search.searched_experiments(query.experiment_ids),
            query.filter_string,
            query.view_type,
            query.order_by,
            self.engine.dialect.name,
        )
        return offset, phases

    @staticmethod
    def _next_token(offset: int, max_results: int, rows: Sequence[Any]) -> str | None:
        return encode_page_token(offset + max_results) if len(rows) > max_results else None
