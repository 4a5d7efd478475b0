"""model version storage location

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 00:10:00

Each model version keeps where its files are (its source resolved at registration), so
``get-download-uri`` is one indexed read. Versions registered before this revision keep NULL and
are resolved from their source as before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("storage_location", sa.String(length=2000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.drop_column("storage_location")
