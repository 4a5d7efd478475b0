"""metrics history without a foreign key to runs

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 04:30:00

PostgreSQL checks a foreign key with one locking read of the parent row per inserted row: for a
batch of 1,000 points into a run created minutes ago that was 8-9 ms of a 13 ms insert here.
The history table drops the key; ``SqlStore.log_batch`` takes one ``FOR KEY SHARE`` lock on the
run per batch instead (what the key's check took per point), and ``gc`` locks the run before it
deletes the run's points, so a batch and a purge of the same run still cannot interleave. The
latest-value table keeps its key (one row per metric name, not per point). On SQLite the table
is rebuilt without the key (SQLite cannot drop a constraint in place), keeping WITHOUT ROWID.
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_COLUMNS = "run_uuid, key, timestamp, step, value, is_nan"
_FK = "fk_metrics_run_uuid_runs"


def _recreate_sqlite(with_fk: bool) -> None:
    fk = (
        f", CONSTRAINT {_FK} FOREIGN KEY(run_uuid) REFERENCES runs (run_uuid) ON DELETE CASCADE"
        if with_fk
        else ""
    )
    op.execute(
        "CREATE TABLE metrics_new ("
        "run_uuid VARCHAR(32) NOT NULL, key VARCHAR(250) NOT NULL, timestamp BIGINT NOT NULL, "
        "step BIGINT NOT NULL, value FLOAT NOT NULL, is_nan BOOLEAN NOT NULL, "
        "CONSTRAINT pk_metrics PRIMARY KEY (run_uuid, key, timestamp, step, value, is_nan)"
        f"{fk}) WITHOUT ROWID"
    )
    op.execute(f"INSERT INTO metrics_new ({_COLUMNS}) SELECT {_COLUMNS} FROM metrics")
    op.execute("DROP TABLE metrics")
    op.execute("ALTER TABLE metrics_new RENAME TO metrics")


def upgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        _recreate_sqlite(with_fk=False)
    else:
        op.drop_constraint(_FK, "metrics", type_="foreignkey")


def downgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        _recreate_sqlite(with_fk=True)
    else:
        op.execute("DELETE FROM metrics WHERE run_uuid NOT IN (SELECT run_uuid FROM runs)")
        op.create_foreign_key(
            _FK, "metrics", "runs", ["run_uuid"], ["run_uuid"], ondelete="CASCADE"
        )
