"""PostgreSQL connections are pinged on checkout only after sitting idle (``IdlePing``)."""

from __future__ import annotations

import time
from typing import Any

import pytest
import sqlalchemy as sa

from shipyard.store.sql import _engine


def _backend_pid(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


@pytest.fixture
def pings(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Pings made, with a 0.1 s idle threshold."""
    made: list[int] = []
    original = _engine.IdlePing.ping

    def counted(dbapi_conn: Any) -> None:
        made.append(1)
        original(dbapi_conn)

    monkeypatch.setattr(_engine, "PING_AFTER_IDLE_S", 0.1)
    monkeypatch.setattr(_engine.IdlePing, "ping", staticmethod(counted))
    return made


def test_a_connection_in_steady_use_is_not_pinged(postgres_uri: str, pings: list[int]) -> None:
    engine = _engine.make_engine(postgres_uri)
    for _ in range(5):
        _backend_pid(engine)
    assert pings == []
    time.sleep(0.2)
    _backend_pid(engine)
    assert pings == [1]
    engine.dispose()


def test_an_idle_connection_killed_by_the_server_is_replaced(
    postgres_uri: str, pings: list[int]
) -> None:
    engine = _engine.make_engine(postgres_uri)
    first = _backend_pid(engine)
    admin = sa.create_engine(postgres_uri, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"SELECT pg_terminate_backend({first})")
    admin.dispose()
    time.sleep(0.3)  # the backend exits, and the pooled connection is idle past the threshold
    second = _backend_pid(engine)  # no error: the ping failed and the pool connected again
    assert second != first and pings == [1]
    engine.dispose()
