"""The database's floor under a read: Shipyard's own SQL, replayed through the bare driver.

For the search and read-all workloads the question "how close does Shipyard get to the
database?" has a direct answer: run the request once through Shipyard's store in this process
with every statement it sends captured (SQLAlchemy's ``before_cursor_execute``), then time
those same statements with their parameters through the DBAPI cursor alone: execute and
fetch every row, nothing else (no entities, no JSON, no HTTP). The workloads report that
floor; their notes add the store's own time in process (statements plus building the wire
JSON and encoding it), so a reader sees the database, Python and HTTP shares of the figure
the HTTP workload measured.

The store is opened on the database the Shipyard server under test uses (the harness sets
`FloorTarget.uri` per instance); SQLite readers share the file with the server (WAL).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from _workloads import SEARCH_FILTER, SEARCH_ORDER, Measured, SearchFixture, Sizes, timed


class FloorTarget:
    """The database URI (SQLAlchemy form) of the Shipyard server under test, or None."""

    uri: str | None = None


def _store() -> Any:
    from shipyard.store.sql import SqlStore

    if FloorTarget.uri is None:
        raise RuntimeError("no database to measure: FloorTarget.uri is not set")
    return SqlStore(FloorTarget.uri, "/nonexistent-artifacts", check_schema=False)


def _capture(store: Any, call: Callable[[], object]) -> list[tuple[str, Any]]:
    from sqlalchemy import event

    seen: list[tuple[str, Any]] = []

    def grab(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        seen.append((statement, params))

    event.listen(store.engine, "before_cursor_execute", grab)
    try:
        call()
    finally:
        event.remove(store.engine, "before_cursor_execute", grab)
    return seen


def _replay(raw: Any, postgres: bool, statements: list[tuple[str, Any]]) -> Callable[[], None]:
    """A function that runs ``statements`` through the raw DBAPI connection ``raw``:
    autocommit and unprepared on PostgreSQL, as Shipyard's read path runs them."""
    driver = raw.driver_connection
    if postgres:
        driver.autocommit = True
        driver.prepare_threshold = None
    else:
        driver.isolation_level = None  # the captured BEGIN opens the read transaction

    def run() -> None:
        cur = driver.cursor()
        for sql, params in statements:
            if sql == "BEGIN" and driver.in_transaction:  # SQLite: the last read's end
                driver.rollback()
            cur.execute(sql, params)
            if cur.description is not None:
                cur.fetchall()
        cur.close()
        if getattr(driver, "in_transaction", False):  # sqlite3; psycopg is in autocommit
            driver.rollback()

    return run


def _floor(one: Callable[[Any], object], count: int) -> tuple[list[float], float]:
    """(floor samples in seconds, the store's own median in seconds, its result encoded with
    orjson as the server does) for ``one(store)``."""
    import orjson

    store = _store()
    raw = store.engine.raw_connection()
    try:
        one(store)  # the steady state: runs' data kept as JSON (``_run_docs``) by now
        statements = _capture(store, lambda: one(store))
        replay = _replay(raw, store.engine.dialect.name == "postgresql", statements)
        replay()  # warm-up
        floor = [timed(replay) for _ in range(count)]
        in_process = [timed(lambda: orjson.dumps(one(store))) for _ in range(count)]
    finally:
        raw.invalidate()  # its settings (autocommit, no prepared statements) are the replay's
        store.engine.dispose()
    return floor, statistics.median(in_process)


def search_floor(fixture: SearchFixture, sizes: Sizes, repeat: int) -> Measured:
    from shipyard.store import RunQuery

    query = RunQuery([fixture.exp_id], SEARCH_FILTER, order_by=SEARCH_ORDER, max_results=100)

    def one(store: Any) -> object:
        return {"runs": store.search_runs_json(query).items}

    samples, own = _floor(one, repeat * sizes.search_queries)
    ms = [s * 1000 for s in samples]
    return Measured(ms, notes=[f"Shipyard's store in process: {own * 1000:.2f} ms"])


def read_all_floor(fixture: SearchFixture, sizes: Sizes, repeat: int) -> Measured:
    from shipyard.store import RunQuery

    def one(store: Any) -> object:
        pages, token = [], None
        for _ in range(fixture.runs // sizes.page_size + 3):
            query = RunQuery([fixture.exp_id], max_results=sizes.page_size, page_token=token)
            page = store.search_runs_json(query)
            pages.append({"runs": page.items})
            token = page.next_page_token
            if not token:
                break
        return pages

    samples, own = _floor(one, repeat)
    return Measured(samples, notes=[f"Shipyard's store in process: {own:.3f} s"])
