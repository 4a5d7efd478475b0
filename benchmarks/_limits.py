"""'The limits': what the machine does with no server in the way.

- raw SQLite: 1000 metric rows inserted with executemany in one transaction (WAL mode),
- JSON: encoding 100,000 metric dicts with the stdlib json module and with orjson,
- PostgreSQL (with the harness's cluster, `fsync` on): a round trip (`SELECT 1`) and a one-row
  write committed on its own (an autocommit upsert: the commit waits for the WAL flush), the
  floor under every single-call write.
"""

from __future__ import annotations

import json
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE metrics (
    run_uuid TEXT NOT NULL, key TEXT NOT NULL, value REAL NOT NULL,
    timestamp INTEGER NOT NULL, step INTEGER NOT NULL,
    PRIMARY KEY (run_uuid, key, timestamp, step, value)
)
"""


def _sqlite_rate(db: sqlite3.Connection, rows: int, offset: int) -> float:
    batch = [("run0", f"k{i % 10}", i * 0.5, 1_700_000_000_000, offset + i) for i in range(rows)]
    start = time.perf_counter()
    with db:
        db.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?, ?)", batch)
    return rows / (time.perf_counter() - start)


def sqlite_insert_rate(rows: int = 1000, repeat: int = 20) -> float:
    """Median rows/s for `rows` rows per committed executemany, WAL, synchronous=NORMAL."""
    with tempfile.TemporaryDirectory() as tmp:
        db = sqlite3.connect(Path(tmp) / "limits.db")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(SCHEMA)
        _sqlite_rate(db, rows, -rows)  # warm-up
        rates = [_sqlite_rate(db, rows, i * rows) for i in range(repeat)]
        db.close()
    return statistics.median(rates)


def _metric_dicts(count: int) -> list[dict[str, Any]]:
    ts = 1_700_000_000_000
    return [
        {"key": "loss", "value": 1.0 / (i + 1), "timestamp": ts + i, "step": i}
        for i in range(count)
    ]


def encode_ms(count: int = 100_000, repeat: int = 5) -> dict[str, float]:
    """Median milliseconds to encode `count` metric dicts as {"metrics": [...]}."""
    doc = {"metrics": _metric_dicts(count)}
    encoders: dict[str, Any] = {"json": lambda: json.dumps(doc).encode()}
    try:
        import orjson

        encoders["orjson"] = lambda: orjson.dumps(doc)
    except ImportError:
        pass
    result = {}
    for name, encode in encoders.items():
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            encode()
            times.append((time.perf_counter() - start) * 1000)
        result[name] = statistics.median(times)
    return result


def measure(quick: bool) -> dict[str, float]:
    repeat = 5 if quick else 20
    limits = {"sqlite_executemany_1000_rows_per_s": sqlite_insert_rate(1000, repeat)}
    for name, ms in encode_ms(100_000, 3 if quick else 7).items():
        limits[f"{name}_encode_100k_metrics_ms"] = ms
    return limits


def pg_limits(uri: str, repeat: int = 200) -> dict[str, float]:
    """Median milliseconds of a round trip and of a one-row autocommit upsert (``uri``: a
    libpq URI of an empty database)."""
    import psycopg

    def med(conn: Any, sql: str, params: Any = None) -> float:
        times = []
        for i in range(repeat):
            start = time.perf_counter()
            conn.execute(sql, params(i) if callable(params) else params)
            times.append((time.perf_counter() - start) * 1000)
        return statistics.median(times)

    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute("CREATE TABLE limits_rows (id integer PRIMARY KEY, value float8)")
        upsert = (
            "INSERT INTO limits_rows VALUES (%s, %s) "
            "ON CONFLICT (id) DO UPDATE SET value = excluded.value"
        )
        return {
            "postgres_round_trip_ms": med(conn, "SELECT 1"),
            "postgres_one_row_commit_ms": med(conn, upsert, lambda i: (i % 50, i * 0.5)),
        }
