"""Schema versions: Alembic migrations shipped inside the package, checked at start-up."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from shipyard.errors import SchemaOutOfDate

__all__ = ["current_revision", "ensure_schema", "head_revision", "upgrade"]

_SCRIPTS = Path(__file__).with_name("migrations")


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_SCRIPTS))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    cfg = _config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def ensure_schema(engine: Engine) -> None:
    """Create the schema in an empty database; refuse to run on an out-of-date one."""
    current = current_revision(engine)
    if current is None:
        if inspect(engine).has_table("experiments"):
            raise SchemaOutOfDate(
                "The database has tracking tables but no Shipyard schema version; it was not "
                "created by Shipyard. Point --backend-store-uri at a new database."
            )
        upgrade(engine)
        return
    head = head_revision()
    if current != head:
        raise SchemaOutOfDate(
            f"The database schema is at revision {current} but this Shipyard needs {head}. "
            f"Back up the database, then run: shipyard db upgrade --backend-store-uri <uri>"
        )
