"""The few statements whose spelling differs between SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

__all__ = ["dialect_insert", "fetch_tuples", "upsert"]


def dialect_insert(dialect: str, table: Table) -> Any:
    """``INSERT ... ON CONFLICT`` for a dialect by name (both dialects share the API)."""
    if dialect == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def upsert(conn: Connection, table: Table) -> Any:
    """``INSERT ... ON CONFLICT`` for the connection's dialect."""
    return dialect_insert(conn.dialect.name, table)


def fetch_tuples(conn: Connection, stmt: Any, params: Any = None) -> list[tuple[Any, ...]]:
    """A Core statement's rows as the driver's plain tuples, inside ``conn``'s transaction.

    For the read paths that return 100,000s of rows (metric history, pages of runs): building
    SQLAlchemy ``Row`` objects and running result processors costs three times the query. The
    statement still goes through SQLAlchemy's compiled cache; only the rows skip the wrapping.
    Values come back as the driver gives them (SQLite booleans are 0/1).
    """
    result = conn.execute(stmt, params)
    try:
        return list(result.cursor.fetchall())  # type: ignore[union-attr]
    finally:
        result.close()
