""" "Aggregates only" inputs: no raw input value in the log, yet the same input drift."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from shipyard.inference_log import (
    AGGREGATES_SCHEMA,
    InferenceLogWriter,
    read_inference_aggregates,
    read_inference_log,
)
from shipyard.models._profile import build_profile
from shipyard.monitoring import InputProfiler, Monitor, Reference

START = dt.datetime(2026, 11, 20, 9, tzinfo=dt.UTC)
SECRET = "alice@example.com"  # an input value the reference never saw


def _training(rows: int = 3_000) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame(
        {
            "amount": rng.gamma(2.0, 50.0, rows),
            "age": rng.normal(40, 10, rows),
            "site": rng.choice(["north", "south", "east"], rows),
        }
    )


def _serve(root: Path, reference: Reference | None, traffic: pd.DataFrame) -> None:
    profiler = InputProfiler(lambda model, version: reference) if reference else None
    with InferenceLogWriter(root, input_aggregator=profiler, hash_columns=["site"]) as log:
        for number, first in enumerate(range(0, len(traffic), 50)):  # 50-row requests
            rows = traffic.iloc[first : first + 50]
            at = (START + dt.timedelta(seconds=number)).timestamp()
            outputs = np.zeros(len(rows), dtype=np.int64)
            log.log(model_name="loans", model_version="2", source="rest", request_id=f"r{number}",
                    inputs=rows, outputs=outputs, timestamp=at)  # fmt: skip
            if number == 10:
                log.flush()  # two flushes: two summaries of one hour, merged by monitoring


def test_no_raw_input_is_written_and_monitoring_sees_the_same_drift(tmp_path: Path) -> None:
    training = _training()
    reference = Reference.from_profile(build_profile(training))
    traffic = _training(2_000).assign(amount=lambda f: f["amount"] * 1.8)  # drifted
    traffic.loc[::7, "site"] = SECRET
    _serve(tmp_path / "raw", None, traffic)
    _serve(tmp_path / "agg", reference, traffic)

    rows = read_inference_log(tmp_path / "agg", model="loans", version="2")
    assert len(rows) == 2_000
    assert not [c for c in rows.columns if c.startswith("in.")]  # no raw input column
    assert "in_hash.site" in rows.columns  # a hashed column stays a hash
    summaries = read_inference_aggregates(tmp_path / "agg", model="loans", version="2")
    assert summaries["rows"].sum() == 2_000 and len(summaries) == 2
    assert summaries.columns.tolist() == AGGREGATES_SCHEMA.names
    for path in (tmp_path / "agg").rglob("*.parquet"):  # nowhere, not even in a summary
        assert SECRET not in pq.read_table(path).to_pandas().to_string()
        assert str(traffic["amount"].iloc[3]) not in pq.read_table(path).to_pandas().to_string()
    first = json.loads(summaries["aggregates"].iloc[0])
    assert set(first["columns"]) == {"in.amount", "in.age"}  # the hashed column is not summarized

    now = START + dt.timedelta(days=1)
    windows = {
        kind: Monitor(tmp_path / kind, tmp_path / f"state-{kind}", reference, clock=lambda: now)
        .windows("loans", "2", START, START + dt.timedelta(hours=1))[0]
        for kind in ("raw", "agg")
    }  # fmt: skip
    raw, agg = windows["raw"]["drift"], windows["agg"]["drift"]
    assert agg["drifted_columns"] == ["amount"]
    for name in ("amount", "age"):
        mine = next(c for c in agg["columns"] if c["column"] == name)
        theirs = next(c for c in raw["columns"] if c["column"] == name)
        assert mine["statistic"] == theirs["statistic"] and mine["drifted"] == theirs["drifted"]
    assert windows["agg"]["operations"] == windows["raw"]["operations"]


def test_a_version_without_a_reference_writes_rows_and_no_summary(tmp_path: Path) -> None:
    traffic = _training(200)
    with InferenceLogWriter(tmp_path, input_aggregator=InputProfiler(lambda m, v: None)) as log:
        log.log(model_name="loans", model_version="3", source="batch", request_id="b",
                inputs=traffic, outputs=np.zeros(200, dtype=np.int64))  # fmt: skip
    assert len(read_inference_log(tmp_path, model="loans")) == 200
    assert read_inference_aggregates(tmp_path, model="loans").empty
