"""The inference log: every prediction (REST, OIP, batch) as rows of partitioned Parquet files.

Format v1 (``FORMAT_VERSION``): ``<root>/model=<name>/version=<v>/date=<YYYY-MM-DD>/part-*.parquet``
with the columns ``request_id, timestamp, model_name, model_version, source, latency_ms, status,
error``, then ``in.<column>`` (``in_hash.<column>`` when hashed) and ``out.prediction``,
``out.<name>``, ``out.proba.<class>``; with "aggregates only" inputs, per-flush summaries of the
inputs under ``<root>/_aggregates/`` (``read_inference_aggregates``). See docs/serving.md.
"""

from shipyard.inference_log._format import (
    AGGREGATES_SCHEMA,
    BASE_SCHEMA,
    FORMAT_VERSION,
    METADATA_KEY,
    SOURCES,
)
from shipyard.inference_log._reader import read_inference_aggregates, read_inference_log
from shipyard.inference_log._table import InputAggregator
from shipyard.inference_log._writer import InferenceLogWriter

__all__ = [
    "AGGREGATES_SCHEMA",
    "BASE_SCHEMA",
    "FORMAT_VERSION",
    "METADATA_KEY",
    "SOURCES",
    "InferenceLogWriter",
    "InputAggregator",
    "read_inference_aggregates",
    "read_inference_log",
]
