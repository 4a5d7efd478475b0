"""run ids and metric, param and tag keys compared byte by byte on PostgreSQL

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27 18:00:00

Under a cluster's default collation (``C.UTF-8``, ``en_US.UTF-8``...) PostgreSQL compares text
through the C library's ``strcoll``, and a log-batch's 1,000 insertions into the metric
history's index make thousands of such comparisons. ``COLLATE "C"`` compares bytes, as SQLite
does. Every column that holds a run id, and the key columns of the run's data, change
together: an index is used for a comparison only when both sides share its collation. The
indexes on these columns are rebuilt; the rows are not rewritten. Nothing changes on SQLite.
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_RUN_ID = ("run_uuid", 32)
_KEY = ("key", 250)
# ``runs`` first, the table the others' foreign keys reference.
_COLUMNS: dict[str, tuple[tuple[str, int], ...]] = {
    "runs": (_RUN_ID,),
    "params": (_RUN_ID, _KEY),
    "tags": (_RUN_ID, _KEY),
    "metrics": (_RUN_ID, _KEY),
    "latest_metrics": (_RUN_ID, _KEY),
    "dataset_inputs": (_RUN_ID,),
    "input_tags": (_RUN_ID,),
    "run_model_io": (_RUN_ID,),
    "run_wire": (_RUN_ID,),
    "logged_model_metrics": (_RUN_ID,),
}


def _collate(collation: str) -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    for table, columns in _COLUMNS.items():
        changes = ", ".join(
            f'ALTER COLUMN {name} TYPE varchar({length}) COLLATE "{collation}"'
            for name, length in columns
        )
        op.execute(f"ALTER TABLE {table} {changes}")


def upgrade() -> None:
    _collate("C")


def downgrade() -> None:
    _collate("default")
