"""params, tags and latest metrics without rowid on SQLite

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 06:40:00

A page of runs reads each run's params, tags and latest metrics by their primary key
(run_uuid, key). With a rowid, each table is a rowid B-tree plus the key's index: every row is
found in the index and then looked up again in the table. WITHOUT ROWID makes the table its
key's B-tree, so a run's rows are read in one pass; the (key, ...) indexes that searches use
then hold the run id themselves. Reading a page of 1,000 runs: 30.7 -> 26.5 ms; a filtered
search of 100: 5.6 -> 4.8 ms (one process, same data, both files vacuumed). The metric history
has been WITHOUT ROWID since 0002. PostgreSQL has no such distinction: nothing changes there.
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_TABLES = ("params", "tags", "latest_metrics")
_SUFFIX = " WITHOUT ROWID"


def _rebuild(table: str, without_rowid: bool) -> None:
    """Rebuild ``table`` from its own stored definition, with or without a rowid, keeping its
    rows, constraints and indexes (SQLite cannot change this in place)."""
    conn = op.get_bind()
    ddl = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).scalar_one()
    indexes = (
        conn.exec_driver_sql(
            "SELECT sql FROM sqlite_master "
            "WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
            (table,),
        )
        .scalars()
        .all()
    )
    body = ddl[ddl.index("(") :].rstrip().removesuffix(_SUFFIX)
    op.execute(f"CREATE TABLE {table}_new {body}{_SUFFIX if without_rowid else ''}")
    op.execute(f"INSERT INTO {table}_new SELECT * FROM {table}")
    op.execute(f"DROP TABLE {table}")
    op.execute(f"ALTER TABLE {table}_new RENAME TO {table}")
    for index in indexes:
        op.execute(index)


def upgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        for table in _TABLES:
            _rebuild(table, without_rowid=True)


def downgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        for table in _TABLES:
            _rebuild(table, without_rowid=False)
