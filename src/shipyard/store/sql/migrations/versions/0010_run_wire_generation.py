"""the generation of a run's kept wire body, so a server can hold bodies it has read

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27 16:00:00

``runs.wire_gen`` is a random number each fill of ``run_wire`` (``_run_docs``) stamps on the
run's row with its body: while the row says ``wire_kept`` with a generation, the body is the
one that fill wrote, and a server process holds bodies it has read by run and generation
(``_kept_bodies``) instead of reading them again. Bodies kept before this revision have no
generation; their flag is cleared, so the next search keeps them again with one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("wire_gen", sa.BigInteger(), nullable=True))
    op.execute("UPDATE runs SET wire_kept = false WHERE wire_kept")


def downgrade() -> None:
    op.drop_column("runs", "wire_gen")
