"""The tracking database's tables (SQLAlchemy Core).

Core rather than the ORM: the store moves rows in bulk (a 1000-point batch is one ``executemany``)
and builds search queries as SQL expressions, where mapped objects only add overhead.
Metric values that are NaN are stored as 0.0 with ``is_nan`` set, because SQLite turns NaN
into NULL.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)

__all__ = [
    "approval_requests",
    "audit_events",
    "audit_head",
    "dataset_inputs",
    "datasets",
    "experiment_tags",
    "experiments",
    "input_tags",
    "latest_metrics",
    "logged_model_metrics",
    "logged_model_params",
    "logged_model_tags",
    "logged_models",
    "metadata",
    "metrics",
    "model_version_tags",
    "model_versions",
    "params",
    "protected_aliases",
    "registered_model_aliases",
    "registered_model_tags",
    "registered_models",
    "run_model_io",
    "run_wire",
    "runs",
    "tags",
    "webhook_deliveries",
    "webhooks",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

experiments = Table(
    "experiments",
    metadata,
    Column("experiment_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(500), nullable=False, unique=True),
    Column("artifact_location", String(2000), nullable=False),
    Column("lifecycle_stage", String(32), nullable=False, default="active"),
    Column("creation_time", BigInteger),
    Column("last_update_time", BigInteger),
)

experiment_tags = Table(
    "experiment_tags",
    metadata,
    Column(
        "experiment_id",
        Integer,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("key", String(250), nullable=False),
    Column("value", Text),
    PrimaryKeyConstraint("experiment_id", "key"),
)


def _ident(length: int) -> String:
    """A run id or a metric, param or tag key: compared byte by byte on PostgreSQL (``COLLATE
    "C"``, migration 0011), as SQLite always does. Under a cluster's default collation (often
    ``C.UTF-8`` or ``en_US.UTF-8``) each comparison goes through the C library's ``strcoll``:
    a 1,000-point log-batch in process took 3.68 ms against 3.42 with bytes compared. All these
    columns change together: an index on a column of another collation does not serve a
    comparison with one of these."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


runs = Table(
    "runs",
    metadata,
    Column("run_uuid", _ident(32), primary_key=True),
    Column("name", String(250)),
    Column(
        "experiment_id",
        Integer,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("user_id", String(256)),
    Column("status", String(20), nullable=False),
    Column("start_time", BigInteger),
    Column("end_time", BigInteger),
    Column("deleted_time", BigInteger),
    Column("artifact_uri", String(2000)),
    Column("lifecycle_stage", String(20), nullable=False, default="active"),
    # Whether ``run_wire`` holds this run's current wire form (``_run_docs``), and the random
    # generation the fill that wrote it stamped (``_kept_bodies``).
    Column("wire_kept", Boolean, nullable=False, server_default=false()),
    Column("wire_gen", BigInteger),
    Index("ix_runs_experiment_stage_start", "experiment_id", "lifecycle_stage", "start_time"),
)


def _run_fk() -> Column[str]:
    return Column(
        "run_uuid", _ident(32), ForeignKey("runs.run_uuid", ondelete="CASCADE"), nullable=False
    )


params = Table(
    "params",
    metadata,
    _run_fk(),
    Column("key", _ident(250), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("run_uuid", "key"),
    Index("ix_params_key_value", "key", "run_uuid"),
    sqlite_with_rowid=False,  # one B-tree per table on SQLite (migration 0008)
)

tags = Table(
    "tags",
    metadata,
    _run_fk(),
    Column("key", _ident(250), nullable=False),
    Column("value", Text),
    PrimaryKeyConstraint("run_uuid", "key"),
    Index("ix_tags_key_run", "key", "run_uuid"),
    sqlite_with_rowid=False,  # one B-tree per table on SQLite (migration 0008)
)

# No foreign key to runs (migration 0006): PostgreSQL would check it with a locking read per
# point; ``SqlStore.log_batch`` locks the run once per batch instead, and ``gc`` deletes the points.
metrics = Table(
    "metrics",
    metadata,
    Column("run_uuid", _ident(32), nullable=False),
    Column("key", _ident(250), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("value", Float(precision=53), nullable=False),
    Column("is_nan", Boolean, nullable=False, default=False),
    # Identical points collapse, so a retried batch is stored once.
    PrimaryKeyConstraint("run_uuid", "key", "timestamp", "step", "value", "is_nan"),
    # On SQLite the table is its primary-key B-tree: one structure to update per point, not two.
    sqlite_with_rowid=False,
)

latest_metrics = Table(
    "latest_metrics",
    metadata,
    _run_fk(),
    Column("key", _ident(250), nullable=False),
    Column("value", Float(precision=53), nullable=False),
    Column("is_nan", Boolean, nullable=False, default=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("step", BigInteger, nullable=False),
    PrimaryKeyConstraint("run_uuid", "key"),
    Index("ix_latest_metrics_key_value", "key", "value"),
    sqlite_with_rowid=False,  # one B-tree per table on SQLite (migration 0008)
)

datasets = Table(
    "datasets",
    metadata,
    Column("dataset_id", Integer, primary_key=True, autoincrement=True),
    Column(
        "experiment_id",
        Integer,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", String(500), nullable=False),
    Column("digest", String(36), nullable=False),
    Column("source_type", String(36), nullable=False),
    Column("source", Text, nullable=False),
    Column("schema", Text),
    Column("profile", Text),
    UniqueConstraint("experiment_id", "name", "digest"),
)

# A run's datasets; ``position`` numbers them in the order the run logged them (0, 1, ...), the
# order MLflow's server gives them back in. Rows from before migration 0012 all have 0, so the
# dataset id orders them as it did then.
dataset_inputs = Table(
    "dataset_inputs",
    metadata,
    _run_fk(),
    Column(
        "dataset_id",
        Integer,
        ForeignKey("datasets.dataset_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("position", Integer, nullable=False, server_default=text("0")),
    PrimaryKeyConstraint("run_uuid", "dataset_id"),
)

input_tags = Table(
    "input_tags",
    metadata,
    _run_fk(),
    Column("dataset_id", Integer, nullable=False),
    Column("key", String(255), nullable=False),
    Column("value", String(500), nullable=False),
    PrimaryKeyConstraint("run_uuid", "dataset_id", "key"),
)

# Logged-model links of a run: direction "input" (step 0) or "output" (with the step it was
# logged at).
run_model_io = Table(
    "run_model_io",
    metadata,
    _run_fk(),
    Column("model_id", String(64), nullable=False),
    Column("direction", String(6), nullable=False),
    Column("step", BigInteger, nullable=False, default=0),
    PrimaryKeyConstraint("run_uuid", "model_id", "direction"),
)


# A finished run's data, inputs and outputs as the REST API writes them, kept by the server's
# search (``_run_docs``); current only while the run's ``wire_kept`` is true.
run_wire = Table(
    "run_wire",
    metadata,
    Column(
        "run_uuid",
        _ident(32),
        ForeignKey("runs.run_uuid", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("body", Text, nullable=False),
)


# -- logged models (MLflow 3) -------------------------------------------------------------------
# A model logged to an experiment, optionally from a run (no foreign key: the model outlives
# a purged run). Its artifacts live under ``artifact_location``.
logged_models = Table(
    "logged_models",
    metadata,
    Column("model_id", String(64), primary_key=True),
    Column(
        "experiment_id",
        Integer,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", String(500), nullable=False),
    Column("artifact_location", String(2000), nullable=False),
    Column("creation_timestamp_ms", BigInteger, nullable=False),
    Column("last_updated_timestamp_ms", BigInteger, nullable=False),
    Column("status", String(20), nullable=False),
    Column("lifecycle_stage", String(32), nullable=False, default="active"),
    Column("model_type", String(500)),
    Column("source_run_id", String(32)),
    Column("status_message", String(1000)),
    Index("ix_logged_models_experiment_created", "experiment_id", "creation_timestamp_ms"),
    Index("ix_logged_models_source_run", "source_run_id"),
)


def _model_fk() -> Column[str]:
    return Column(
        "model_id",
        String(64),
        ForeignKey("logged_models.model_id", ondelete="CASCADE"),
        nullable=False,
    )


logged_model_tags = Table(
    "logged_model_tags",
    metadata,
    _model_fk(),
    Column("key", String(250), nullable=False),
    Column("value", Text),
    PrimaryKeyConstraint("model_id", "key"),
)

logged_model_params = Table(
    "logged_model_params",
    metadata,
    _model_fk(),
    Column("key", String(250), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("model_id", "key"),
)

# Metric points linked to a model (logged with a model_id), with the run and the dataset they
# come from. No dataset is stored as '' so the columns can be part of the primary key.
logged_model_metrics = Table(
    "logged_model_metrics",
    metadata,
    _model_fk(),
    Column("key", String(250), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("step", BigInteger, nullable=False),
    _run_fk(),
    Column("dataset_name", String(500), nullable=False),
    Column("dataset_digest", String(36), nullable=False),
    Column("value", Float(precision=53), nullable=False),
    Column("is_nan", Boolean, nullable=False, default=False),
    PrimaryKeyConstraint(
        "model_id", "key", "timestamp", "step", "run_uuid", "dataset_name", "dataset_digest"
    ),
)


# -- model registry ------------------------------------------------------------------------------
# Registered models carry a surrogate id so a rename touches one row. ``next_version`` only grows:
# a deleted version's number is never handed out again.
registered_models = Table(
    "registered_models",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(256), nullable=False, unique=True),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
    Column("description", Text),
    Column("user_id", String(256)),
    Column("next_version", Integer, nullable=False, default=1),
    # The audit sequence number of the model's creation: its history starts after it.
    Column("created_seq", BigInteger),
)


def _registered_fk() -> Column[int]:
    return Column(
        "registered_model_id",
        Integer,
        ForeignKey("registered_models.id", ondelete="CASCADE"),
        nullable=False,
    )


registered_model_tags = Table(
    "registered_model_tags",
    metadata,
    _registered_fk(),
    Column("key", String(250), nullable=False),
    Column("value", Text),
    PrimaryKeyConstraint("registered_model_id", "key"),
)

# ``lineage`` is a JSON snapshot taken when the version is created (run, logged model, git
# commit, dataset digests, requirements), so later edits to the run do not rewrite history.
model_versions = Table(
    "model_versions",
    metadata,
    _registered_fk(),
    Column("version", Integer, nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
    Column("user_id", String(256)),
    Column("current_stage", String(20), nullable=False),
    Column("description", Text),
    Column("source", String(2000), nullable=False),
    Column("run_id", String(32)),
    Column("run_link", String(500)),
    Column("logged_model_id", String(64)),
    Column("status", String(20), nullable=False),
    Column("status_message", String(500)),
    Column("lineage", Text),
    # Where the version's files are (the source resolved at registration): get-download-uri.
    Column("storage_location", String(2000)),
    PrimaryKeyConstraint("registered_model_id", "version"),
    Index("ix_model_versions_run_id", "run_id"),
    Index("ix_model_versions_stage", "registered_model_id", "current_stage", "version"),
)

model_version_tags = Table(
    "model_version_tags",
    metadata,
    _registered_fk(),
    Column("version", Integer, nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Text),
    PrimaryKeyConstraint("registered_model_id", "version", "key"),
)

registered_model_aliases = Table(
    "registered_model_aliases",
    metadata,
    _registered_fk(),
    Column("alias", String(255), nullable=False),
    Column("version", Integer, nullable=False),
    PrimaryKeyConstraint("registered_model_id", "alias"),
)

# An alias listed here can only move through an approved request (or a rollback).
protected_aliases = Table(
    "protected_aliases",
    metadata,
    _registered_fk(),
    Column("alias", String(255), nullable=False),
    Column("approvals_required", Integer, nullable=False, default=1),
    PrimaryKeyConstraint("registered_model_id", "alias"),
)

approval_requests = Table(
    "approval_requests",
    metadata,
    Column("id", String(32), primary_key=True),
    _registered_fk(),
    Column("alias", String(255), nullable=False),
    Column("version", Integer, nullable=False),
    Column("requested_by", String(256), nullable=False),
    Column("reason", Text),
    Column("created_time", BigInteger, nullable=False),
    Column("status", String(20), nullable=False),
    Column("decided_by", String(256)),
    Column("decided_time", BigInteger),
    Column("comment", Text),
    Index("ix_approval_requests_model_status", "registered_model_id", "status"),
)

# The audit trail: append-only, each event hashed over its content and the previous hash.
# ``audit_head`` (one row) holds the last sequence number and hash; writers lock it, so events
# get gap-free sequence numbers in commit order, and removing the newest events is detectable.
audit_events = Table(
    "audit_events",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("time_ms", BigInteger, nullable=False),
    Column("actor", String(256), nullable=False),
    Column("action", String(64), nullable=False),
    Column("model_name", String(256)),
    Column("version", String(32)),
    Column("alias", String(255)),
    Column("body", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_events_model", "model_name", "seq"),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("url", String(2000), nullable=False),
    Column("secret", String(256), nullable=False),
    Column("events", Text, nullable=False),
    Column("model_name", String(256)),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_time", BigInteger, nullable=False),
)

# The outbox: a delivery row is written in the same transaction as its audit event, then sent
# (and retried) by the server's dispatcher; ``lease_until`` lets several workers share the work.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("webhook_id", String(32), ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False),
    Column("event_seq", BigInteger, nullable=False),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_ms", BigInteger, nullable=False),
    Column("lease_until_ms", BigInteger),
    Column("last_status_code", Integer),
    Column("last_error", Text),
    Column("created_time", BigInteger, nullable=False),
    Column("delivered_time", BigInteger),
    Index("ix_webhook_deliveries_due", "status", "next_attempt_ms"),
)
