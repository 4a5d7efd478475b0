"""Inference logs in format v1, written by the tests themselves with pandas and pyarrow."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

START = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def log_frame(
    inputs: pd.DataFrame,
    start: dt.datetime,
    *,
    model: str = "cancer",
    version: str = "1",
    seconds: float = 3600.0,
    predictions: np.ndarray | None = None,
    proba: np.ndarray | None = None,
    latency_ms: float | np.ndarray = 5.0,
    status: np.ndarray | None = None,
) -> pd.DataFrame:
    """Log rows (one request per row) spread evenly over ``seconds`` from ``start``."""
    n = len(inputs)
    offsets = pd.to_timedelta(np.linspace(0, seconds, n, endpoint=False), unit="s")
    frame = pd.DataFrame(
        {
            "request_id": [uuid.uuid4().hex for _ in range(n)],
            "timestamp": pd.Timestamp(start) + offsets,
            "model_name": model,
            "model_version": version,
            "source": "rest",
            "latency_ms": latency_ms,
            "status": "ok" if status is None else status,
            "error": None,
        }
    )
    frame["timestamp"] = frame["timestamp"].astype("datetime64[us, UTC]")
    for name in inputs.columns:
        frame[f"in.{name}"] = inputs[name].to_numpy()
    if predictions is not None:
        frame["out.prediction"] = predictions
    if proba is not None:
        for i in range(proba.shape[1]):
            frame[f"out.proba.{i}"] = proba[:, i]
    return frame


def write_parts(root: Path, frame: pd.DataFrame) -> None:
    """Write ``frame`` as v1 part files, one per (model, version, date)."""
    dates = frame["timestamp"].dt.strftime("%Y-%m-%d")
    for (model, version, date), part in frame.groupby(["model_name", "model_version", dates]):
        folder = root / f"model={quote(model, safe='')}/version={quote(version, safe='')}"
        folder = folder / f"date={date}"
        folder.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pandas(part, preserve_index=False)
        table = table.replace_schema_metadata(
            {**(table.schema.metadata or {}), b"shipyard.inference_log.version": b"1"}
        )
        pq.write_table(table, folder / f"part-{uuid.uuid4().hex}.parquet")
