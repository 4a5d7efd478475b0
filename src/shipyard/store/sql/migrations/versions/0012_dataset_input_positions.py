"""the order a run logged its datasets in

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27 22:40:00

``dataset_inputs.position`` numbers a run's datasets in the order the run logged them, the order
MLflow's server lists them in (a run's inputs came back in dataset id order, which differs when
one run logs X then Y and another Y then X). Rows already there get 0: the store reads a run's
inputs by (position, dataset id), so they keep the order they had, and a dataset logged later
comes after them. Kept run bodies (``run_wire``, 0009) stay current: no run's inputs change order.

A plain ADD COLUMN on both: with a constant default PostgreSQL (11+) writes no row, and SQLite
needs no "move and copy" of the table (DROP COLUMN since 3.35, as in 0009).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "dataset_inputs",
        sa.Column("position", sa.Integer(), nullable=False, server_default=sa.text("0")),
    )


def downgrade() -> None:
    op.drop_column("dataset_inputs", "position")
