"""Inference log format v1: where the files go and what their columns are.

``<root>/model=<name>/version=<version>/date=<YYYY-MM-DD>/part-<utc-time>-<uuid>.parquet``,
one row per predicted row. The base columns below come first, then ``in.<column>`` (or
``in_hash.<column>`` for hashed columns), then ``out.prediction`` / ``out.<name>`` /
``out.proba.<class>``. Each file carries ``shipyard.inference_log.version`` in its metadata so a
reader can refuse (or convert) a newer layout. With "aggregates only" inputs, summaries of the
inputs go to ``<root>/_aggregates/`` under the same partitions (``AGGREGATES_SCHEMA``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from urllib.parse import quote, unquote

import pyarrow as pa

__all__ = [
    "AGGREGATES_DIR",
    "AGGREGATES_SCHEMA",
    "BASE_SCHEMA",
    "FORMAT_VERSION",
    "METADATA_KEY",
    "SOURCES",
    "aggregates_path",
    "parse_partition",
    "part_path",
    "partition_dir",
]

FORMAT_VERSION = "1"
METADATA_KEY = b"shipyard.inference_log.version"
SOURCES = ("rest", "oip", "batch")

BASE_SCHEMA = pa.schema(
    [
        ("request_id", pa.string()),
        ("timestamp", pa.timestamp("us", tz="UTC")),
        ("model_name", pa.string()),
        ("model_version", pa.string()),
        ("source", pa.string()),
        ("latency_ms", pa.float64()),
        ("status", pa.string()),
        ("error", pa.string()),
    ]
)


# "aggregates only" inputs: one row per flush, model version and hour, in a tree of its own
# (a leading underscore: engines reading the rows' tree as a dataset skip it)
AGGREGATES_DIR = "_aggregates"
AGGREGATES_SCHEMA = pa.schema(
    [
        ("window_start", pa.timestamp("us", tz="UTC")),  # the first and last record's time
        ("window_end", pa.timestamp("us", tz="UTC")),
        ("model_name", pa.string()),
        ("model_version", pa.string()),
        ("rows", pa.int64()),  # predicted rows summarized
        ("aggregates", pa.string()),  # JSON, as the aggregator made it
    ]
)


def partition_dir(model: str, version: str, date: dt.date) -> str:
    """The partition folder, relative to the root (names percent-quoted, ``/`` included)."""
    return f"model={quote(model, safe='')}/version={quote(version, safe='')}/date={date:%Y-%m-%d}"


def part_path(model: str, version: str, date: dt.date, now: dt.datetime) -> str:
    """A new part file's path relative to the root; the uuid keeps parallel writers apart."""
    stamp = now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{partition_dir(model, version, date)}/part-{stamp}-{uuid.uuid4().hex}.parquet"


def aggregates_path(model: str, version: str, date: dt.date, now: dt.datetime) -> str:
    """A new aggregates file's path relative to the root."""
    stamp = now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    folder = partition_dir(model, version, date)
    return f"{AGGREGATES_DIR}/{folder}/agg-{stamp}-{uuid.uuid4().hex}.parquet"


def parse_partition(segment: str, key: str) -> str | None:
    """``model=my%20model`` -> ``my model`` when ``segment`` is the ``key`` partition."""
    prefix = f"{key}="
    return unquote(segment[len(prefix) :]) if segment.startswith(prefix) else None
