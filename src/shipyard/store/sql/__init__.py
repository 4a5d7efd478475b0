"""The SQL tracking store (SQLite embedded, PostgreSQL multi-user)."""

from shipyard.store.sql._engine import (
    LoopEngine,
    WalCheckpointer,
    make_engine,
    normalise_db_uri,
    run_on_loop,
)
from shipyard.store.sql._migrations import current_revision, ensure_schema, head_revision, upgrade
from shipyard.store.sql._store import DEFAULT_EXPERIMENT_ID, SqlStore

__all__ = [
    "DEFAULT_EXPERIMENT_ID",
    "LoopEngine",
    "SqlStore",
    "WalCheckpointer",
    "current_revision",
    "ensure_schema",
    "head_revision",
    "make_engine",
    "normalise_db_uri",
    "run_on_loop",
    "upgrade",
]
