"""Input drift from an "aggregates only" inference log: no raw input reaches the log's rows, so
the writer summarizes each flush's inputs as a window profile of input sketches (the same
mergeable sketches monitoring builds from rows), and ``Monitor`` merges them into its windows.

``InputProfiler`` is the writer's ``input_aggregator``: for a model version it counts the inputs
into the grids of that version's reference profile. A summary holds counts per bin, count, sum,
sum of squares, minimum and maximum per numeric column and counts of the reference's categories
per categorical column; values the reference did not list are counted, never named (a categorical
sketch's "unseen" examples would otherwise carry raw values into the log).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from shipyard.errors import InvalidParameter
from shipyard.inference_log import read_inference_aggregates
from shipyard.monitoring._operations import OperationsSketch
from shipyard.monitoring._profile import Sketch, WindowProfile
from shipyard.monitoring._reference import Reference
from shipyard.monitoring._sketch import CategoricalSketch, NumericSketch
from shipyard.monitoring._windows import floor_hour
from shipyard.settings import S3Settings

__all__ = ["InputProfiler", "input_profile", "stored_input_profiles"]

_log = logging.getLogger("shipyard.monitoring")

# (model name, version) -> that version's reference, None when it has none
References = Callable[[str, str], Reference | None]


def input_profile(
    frame: pd.DataFrame, reference: Reference, start: dt.datetime, end: dt.datetime
) -> WindowProfile:
    """A profile of the input columns only (operations empty: the log's rows count those)."""
    sketches: dict[str, Sketch] = {}
    for column in reference.columns:
        if column.role != "input" or column.log_column not in frame.columns:
            continue
        values = frame[column.log_column]
        if column.kind == "numeric":
            assert column.grid is not None
            sketches[column.log_column] = NumericSketch.of(column.grid, values)
        else:
            sketch = CategoricalSketch.of(column.categories, values)
            sketch.unseen_rest += sum(sketch.unseen.values())
            sketch.unseen = {}
            sketches[column.log_column] = sketch
    return WindowProfile(start, end, reference.profile_id, sketches, OperationsSketch.empty())


class InputProfiler:
    """An ``InferenceLogWriter(input_aggregator=...)``: input sketches per flush."""

    def __init__(self, references: References) -> None:
        self._references = references
        self._cache: dict[tuple[str, str], Reference | None] = {}

    def __call__(
        self, model: str, version: str, inputs: pd.DataFrame, start: float, end: float
    ) -> Mapping[str, Any] | None:
        key = (model, version)
        if key not in self._cache:
            self._cache[key] = self._references(model, version)
            if self._cache[key] is None:
                _log.warning("no reference profile for %s version %s: no input aggregates", *key)
        reference = self._cache[key]
        if reference is None:
            return None
        first = dt.datetime.fromtimestamp(start, dt.UTC)
        last = dt.datetime.fromtimestamp(end, dt.UTC) + dt.timedelta(microseconds=1)
        return input_profile(inputs, reference, first, last).to_dict()


def stored_input_profiles(
    root: Any,
    model: str,
    version: str,
    reference: Reference,
    since: dt.datetime,
    until: dt.datetime,
    s3: S3Settings | None = None,
) -> dict[dt.datetime, WindowProfile]:
    """The stored input summaries of ``[since, until)`` merged per hour."""
    found = read_inference_aggregates(root, model, version, since, until, s3=s3)
    hours: dict[dt.datetime, WindowProfile] = {}
    skipped = 0
    for stamp, text in zip(found["window_start"], found["aggregates"], strict=True):
        try:
            profile = WindowProfile.from_dict(json.loads(text), reference)
        except (InvalidParameter, ValueError, KeyError):
            skipped += 1  # built against another reference (or unreadable): not comparable
            continue
        hour = floor_hour(pd.Timestamp(stamp).to_pydatetime())
        hours[hour] = hours[hour].merge(profile) if hour in hours else profile
    if skipped:
        _log.warning("%d input summaries of %s/%s were built against another reference",
                     skipped, model, version)  # fmt: skip
    return hours
