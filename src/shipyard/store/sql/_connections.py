"""How ``SqlStore`` and its mixins reach the database: which engine a call gets (the event
loop's inside ``run_on_loop``, see ``LoopEngine``) and the transactions it runs in."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine

from shipyard.store.sql import _lite
from shipyard.store.sql._engine import LoopEngine

__all__ = ["Connections"]


class Connections:
    """The connection half of ``SqlStore``: the host sets these members."""

    engine: Engine
    _postgres: bool
    # PostgreSQL: the same statements with their waits on the event loop, for calls the server
    # runs there (``loop_io``); None on SQLite or without SQLAlchemy's asyncio extra.
    _loop_engine: LoopEngine | None
    _hot: Any  # ``_pg`` or ``_lite``: the hot writes' module

    @property
    def loop_io(self) -> bool:
        """Whether calls run by ``run_on_loop`` wait for the database on the event loop (a
        PostgreSQL store with SQLAlchemy's asyncio extra installed); elsewhere they would hold
        the loop for every round trip."""
        return self._loop_engine is not None

    def dispose(self) -> None:
        """Close the store's pooled connections (the store stays usable: it reconnects)."""
        if self._loop_engine is not None:
            self._loop_engine.dispose()
        self.engine.dispose()

    def _engine_now(self) -> Engine:
        """The engine for this call: the loop's inside ``run_on_loop``, else ``self.engine``.
        The loop's connections are in autocommit unless a write transaction asks otherwise
        (each switch of the mode is a wait on the loop: ~40 us a request)."""
        if self._loop_engine is not None:
            return self._loop_engine.current() or self.engine
        return self.engine

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        engine = self._engine_now()
        with engine.connect() as conn:
            if engine is not self.engine:  # the loop's: out of autocommit for this transaction
                conn.execution_options(isolation_level=engine.dialect.default_isolation_level)
            conn.execution_options(shipyard_write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        # At PostgreSQL's default READ COMMITTED each statement has its own snapshot, in a
        # transaction or not, so a read transaction only adds BEGIN and ROLLBACK: two round
        # trips of a one-query request. Reads there run in autocommit.
        opened = self._statement() if self._postgres else self.engine.connect()
        with opened as conn, conn.begin():
            yield conn

    @contextmanager
    def _statement(self) -> Iterator[Connection]:
        """A connection for one self-contained statement (``_pg``): autocommit, so the
        statement is its own transaction and costs one round trip."""
        engine = self._engine_now()
        with engine.connect() as conn:
            if engine is self.engine:  # the loop's is in autocommit already
                conn.execution_options(isolation_level="AUTOCOMMIT")
            yield conn

    @contextmanager
    def _hot_write(self) -> Iterator[Any]:
        """What ``self._hot``'s functions take (see ``__init__``): on PostgreSQL a driver
        cursor in autocommit for one statement (``_pg.statement``), on SQLite the ``sqlite3``
        connection in a write transaction (``_lite.transaction``)."""
        if self._postgres:
            with self._hot.statement(self._engine_now()) as cur:
                yield cur
        else:
            with _lite.transaction(self.engine) as db:
                yield db
