"""The inference log: every prediction (REST, OIP, batch) as rows of partitioned Parquet files.

Format v1 (``FORMAT_VERSION``): ``<root>/model=<name>/version=<v>/date=<YYYY-MM-DD>/part-*.parquet``
with the columns ``request_id, timestamp, model_name, model_version, source, latency_ms, status,
error``, then ``in.<column>`` (``in_hash.<column>`` when hashed) and ``out.prediction``,
``out.<name>``, ``out.proba.<class>``. See docs/serving.md.
"""

from shipyard.inference_log._format import BASE_SCHEMA, FORMAT_VERSION, METADATA_KEY, SOURCES
from shipyard.inference_log._reader import read_inference_log
from shipyard.inference_log._writer import InferenceLogWriter

__all__ = [
    "BASE_SCHEMA",
    "FORMAT_VERSION",
    "METADATA_KEY",
    "SOURCES",
    "InferenceLogWriter",
    "read_inference_log",
]
