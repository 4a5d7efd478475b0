"""Ground truth that arrives after the predictions, joined to the log by request id.

Labels are appended as Parquet parts under ``<monitoring dir>/labels/``; a label sent again for the
same row replaces the older one (the latest ingestion wins), so a corrected label is a new
upload, not an edit. A request may score several rows: the log numbers them in order within the
request (``row``), and labels carry the same ``row`` (or get 0, 1, ... in file order when they
do not).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from shipyard.errors import InvalidParameter

__all__ = ["LabelStore", "join_labels"]

Clock = Callable[[], dt.datetime]


class LabelStore:
    def __init__(self, folder: str | Path, clock: Clock | None = None) -> None:
        self.folder = Path(folder)
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))

    def ingest(self, labels: pd.DataFrame) -> int:
        """Store ``labels`` (columns ``request_id``, ``label``, optional ``row``, ``timestamp``)."""
        frame = _validated(labels)
        if frame.empty:
            return 0
        now = self._clock()
        frame["ingested_at"] = pd.Timestamp(now).tz_convert("UTC")
        self.folder.mkdir(parents=True, exist_ok=True)
        # Names sort in upload order (nanoseconds of the real clock), which decides the latest.
        name = f"part-{time.time_ns():020d}-{uuid.uuid4().hex}.parquet"
        table = pa.Table.from_pandas(frame, preserve_index=False)
        tmp = self.folder / f".{name}.tmp"
        pq.write_table(table, tmp)
        tmp.replace(self.folder / name)
        return len(frame)

    def read(self) -> pd.DataFrame:
        """Every stored label, the latest per (request_id, row)."""
        parts = sorted(self.folder.glob("part-*.parquet")) if self.folder.exists() else []
        if not parts:
            return pd.DataFrame(
                {
                    "request_id": pd.Series(dtype=object),
                    "row": pd.Series(dtype="int64"),
                    "label": pd.Series(dtype=object),
                }
            )
        frames = [pq.read_table(p).to_pandas() for p in parts]
        labels = pd.concat(frames, ignore_index=True)
        latest: pd.DataFrame = labels.drop_duplicates(
            ["request_id", "row"], keep="last", ignore_index=True
        )
        return latest


def join_labels(log: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """The log rows that have a label, with a ``label`` column added."""
    if log.empty or labels.empty:
        return log.iloc[0:0].assign(label=pd.Series(dtype=object))
    rows = log.assign(row=log.groupby("request_id", sort=False).cumcount())
    keyed = labels[["request_id", "row", "label"]]
    return rows.merge(keyed, on=["request_id", "row"], how="inner")


def _validated(labels: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in ("request_id", "label") if c not in labels.columns]
    if missing:
        raise InvalidParameter(
            f"labels need columns 'request_id' and 'label'; missing: {', '.join(missing)}"
        )
    frame = labels[[c for c in ("request_id", "label", "row", "timestamp") if c in labels]].copy()
    if frame["request_id"].isna().any():
        raise InvalidParameter("labels: 'request_id' has empty values")
    frame["request_id"] = frame["request_id"].astype(str)
    if "row" not in frame:
        frame["row"] = frame.groupby("request_id", sort=False).cumcount()
    else:
        try:
            frame["row"] = frame["row"].astype("int64")
        except (TypeError, ValueError):
            raise InvalidParameter("labels: 'row' must be whole numbers") from None
    try:
        pa.array(frame["label"], from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed types: keep them comparable as text
        frame["label"] = frame["label"].map(lambda v: None if pd.isna(v) else str(v))
    if "timestamp" in frame:
        frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    return frame
