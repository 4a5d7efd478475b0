"""a finished run's wire form kept beside the run, for the server's search

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 09:00:00

``run_wire.body`` holds a finished run's ``data``, ``inputs`` and ``outputs`` as the REST API
writes them (``_run_docs``), and ``runs.wire_kept`` says whether it is current: a search reads
a page of 1,000 such runs from one table (PostgreSQL: ~4 ms) instead of from five child tables
(~33 ms). Every run starts not kept, the search keeps it, and every write to a run's data
clears the flag. A later migration that changes runs' params, tags, metrics, inputs or outputs
must clear it for those runs.

The JSON has its own table, not a column of ``runs``: a run's row stays ~200 bytes, so the
table that every search walks does not grow five times, and setting or clearing the flag is a
heap-only update on PostgreSQL, for which ``fillfactor`` leaves a tenth of each page free.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# Plain ALTER TABLE on both (SQLite has DROP COLUMN since 3.35): a batch "move and copy" of
# ``runs`` on SQLite would drop the table, and with it, through ON DELETE CASCADE, every run's
# params, tags and metrics.


def upgrade() -> None:
    op.add_column(
        "runs", sa.Column("wire_kept", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.create_table(
        "run_wire",
        sa.Column("run_uuid", sa.String(length=32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_uuid"],
            ["runs.run_uuid"],
            name=op.f("fk_run_wire_run_uuid_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_uuid", name=op.f("pk_run_wire")),
    )
    if op.get_context().dialect.name == "postgresql":
        op.execute("ALTER TABLE runs SET (fillfactor = 90)")


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("ALTER TABLE runs RESET (fillfactor)")
    op.drop_table("run_wire")
    op.drop_column("runs", "wire_kept")
