"""a finished run's data in its wire form, kept on the run's row (PostgreSQL's read path)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 09:00:00

``runs.data_json`` holds a finished run's metrics, params and tags as the REST API writes them
(``_run_docs``): reading a page of 1,000 runs from it takes PostgreSQL ~4 ms instead of ~33 ms
for the three child queries. NULL means "not kept": every run starts so, and every write to a
run's data sets it back. Nothing to fill here: the read path fills it. A later migration that
changes a run's params, tags or latest metrics must set it to NULL for those runs.
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
    op.add_column("runs", sa.Column("data_json", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("runs", "data_json")
