"""Inference log format v1: layout, columns, privacy, bounded queue, flush on close, S3."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from shipyard.errors import InvalidParameter, UnsupportedModelFormat
from shipyard.inference_log import FORMAT_VERSION, InferenceLogWriter, read_inference_log

NOON = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC).timestamp()


def frame(n: int) -> pd.DataFrame:
    return pd.DataFrame({"x": np.arange(n, dtype=np.int64), "city": [f"c{i}" for i in range(n)]})


def log_one(writer: InferenceLogWriter, **kwargs: Any) -> bool:
    fields: dict[str, Any] = {
        "model_name": "fraud model",
        "model_version": "2",
        "source": "rest",
        "request_id": "r1",
        "inputs": frame(2),
        "outputs": np.array([0, 1]),
        "latency_ms": 1.5,
        "timestamp": NOON,
    }
    fields.update(kwargs)
    return writer.log(**fields)


def test_layout_schema_and_round_trip(tmp_path: Path) -> None:
    with InferenceLogWriter(tmp_path) as writer:
        assert log_one(writer)
    (part,) = tmp_path.glob("model=*/version=*/date=*/part-*.parquet")
    assert part.parent.relative_to(tmp_path).as_posix() == (
        "model=fraud%20model/version=2/date=2026-03-01"
    )
    table = pq.read_table(part)
    assert table.schema.metadata[b"shipyard.inference_log.version"] == FORMAT_VERSION.encode()
    assert str(table.schema.field("timestamp").type) == "timestamp[us, tz=UTC]"
    assert table.schema.field("in.x").type == "int64"
    assert table.schema.field("out.prediction").type == "int64"
    log = read_inference_log(tmp_path)
    assert log.columns.tolist() == [
        "request_id", "timestamp", "model_name", "model_version", "source", "latency_ms",
        "status", "error", "in.x", "in.city", "out.prediction",
    ]  # fmt: skip
    assert log["in.city"].tolist() == ["c0", "c1"]
    assert log["timestamp"].iloc[0] == pd.Timestamp("2026-03-01 12:00", tz="UTC")


def test_outputs_of_every_shape_and_probabilities(tmp_path: Path) -> None:
    def proba(inputs: pd.DataFrame) -> tuple[list[str], np.ndarray]:
        return ["no", "yes"], np.column_stack([1 - inputs["x"] / 10, inputs["x"] / 10])

    with InferenceLogWriter(tmp_path) as writer:
        log_one(writer, request_id="a", proba=proba)
        log_one(writer, request_id="b", proba=proba, inputs=frame(3), outputs=np.arange(3))
        log_one(writer, model_version="3", outputs={"score": [0.5, 0.7], "label": ["x", "y"]})
        log_one(writer, model_version="4", outputs=pd.DataFrame({"p": [1.0, 2.0]}))
    first = read_inference_log(tmp_path, version=2)
    assert first["request_id"].tolist() == ["a", "a", "b", "b", "b"]
    assert first["out.proba.yes"].tolist() == [0.0, 0.1, 0.0, 0.1, 0.2]
    multi = read_inference_log(tmp_path, version="3")
    assert multi["out.score"].tolist() == [0.5, 0.7] and multi["out.label"].tolist() == ["x", "y"]
    assert read_inference_log(tmp_path, version="4")["out.p"].tolist() == [1.0, 2.0]


def test_failed_requests_keep_the_answered_rows_types(tmp_path: Path) -> None:
    with InferenceLogWriter(tmp_path) as writer:
        log_one(writer)
        log_one(writer, request_id="bad", inputs=pd.DataFrame({"x": ["oops"]}), outputs=None,
                status="error", error="column 'x' must be long")  # fmt: skip
    types = {str(pq.read_table(p).schema.field("in.x").type) for p in tmp_path.glob("**/*.parquet")}
    assert types == {"int64", "large_string"}  # two files: the bad value is kept as sent
    log = read_inference_log(tmp_path)
    assert log["in.x"].tolist() == [0, 1, "oops"]
    assert log["status"].tolist() == ["ok", "ok", "error"]
    assert log["error"].iloc[2] == "column 'x' must be long"


def test_hashed_and_omitted_inputs(tmp_path: Path) -> None:
    with InferenceLogWriter(tmp_path / "a", hash_columns=["city"], salt="s") as writer:
        log_one(writer)
    hashed = read_inference_log(tmp_path / "a")
    assert "in.city" not in hashed.columns and hashed["in.x"].tolist() == [0, 1]
    assert hashed["in_hash.city"].str.len().tolist() == [64, 64]
    with InferenceLogWriter(tmp_path / "b", log_inputs=False) as writer:
        log_one(writer)
    assert not [c for c in read_inference_log(tmp_path / "b").columns if c.startswith("in")]


def test_full_queue_drops_and_counts_but_never_blocks(tmp_path: Path) -> None:
    writer = InferenceLogWriter(tmp_path, max_queue_rows=3, flush_rows=100, flush_interval=60)
    assert log_one(writer) is True
    assert log_one(writer) is False  # 2 + 2 > 3
    assert writer.dropped == 2
    writer.close()
    assert writer.written == 2
    assert log_one(writer) is False  # closed: dropped, not raised
    assert writer.dropped == 4


def test_close_writes_every_queued_record(tmp_path: Path) -> None:
    writer = InferenceLogWriter(tmp_path, flush_rows=10_000, flush_interval=60)
    for i in range(500):
        log_one(writer, request_id=f"r{i}", inputs=frame(1), outputs=[i])
    writer.close()
    log = read_inference_log(tmp_path)
    assert len(log) == 500 and log["out.prediction"].tolist() == list(range(500))
    assert writer.dropped == 0


def test_flush_writes_without_closing(tmp_path: Path) -> None:
    with InferenceLogWriter(tmp_path, flush_interval=60) as writer:
        log_one(writer)
        writer.flush(timeout=10)
        assert len(read_inference_log(tmp_path)) == 2
        log_one(writer, request_id="later")
    assert len(read_inference_log(tmp_path)) == 4


def test_reader_filters_by_model_version_and_time(tmp_path: Path) -> None:
    day = 86_400
    with InferenceLogWriter(tmp_path) as writer:
        log_one(writer, request_id="old", timestamp=NOON - 2 * day)
        log_one(writer, request_id="now")
        log_one(writer, request_id="other", model_name="other")
    assert set(read_inference_log(tmp_path, model="other")["request_id"]) == {"other"}
    since = read_inference_log(tmp_path, model="fraud model", since="2026-03-01")
    assert set(since["request_id"]) == {"now"}
    until = read_inference_log(tmp_path, until=dt.datetime(2026, 2, 28))
    assert set(until["request_id"]) == {"old"}
    assert read_inference_log(tmp_path / "empty").empty


def test_a_newer_format_is_refused(tmp_path: Path) -> None:
    with InferenceLogWriter(tmp_path) as writer:
        log_one(writer)
    (part,) = tmp_path.glob("**/part-*.parquet")
    table = pq.read_table(part)
    pq.write_table(table.replace_schema_metadata({b"shipyard.inference_log.version": b"9"}), part)
    with pytest.raises(UnsupportedModelFormat, match="format 9"):
        read_inference_log(tmp_path)


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameter):
        InferenceLogWriter(tmp_path, max_queue_rows=0)
    with InferenceLogWriter(tmp_path) as writer, pytest.raises(InvalidParameter, match="source"):
        log_one(writer, source="kafka")


def test_s3_root(moto_server: Any) -> None:
    bucket = moto_server.new_bucket()
    root = f"s3://{bucket}/inference"
    with InferenceLogWriter(root, s3=moto_server.settings) as writer:
        log_one(writer)
    assert any(key.endswith(".parquet") for key in moto_server.keys(bucket))
    log = read_inference_log(root, s3=moto_server.settings)
    assert log["in.x"].tolist() == [0, 1]
