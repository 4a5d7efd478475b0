"""Window profiles: every compared column's sketch plus operational health for one time window.

A profile is built once from the log rows of its window and never again: a day's profile is the
merge of its hours, a week's the merge of its days. Its size depends on the number of columns,
not rows. Profiles are stored as JSON (``to_dict``/``from_dict``) with a format version and the
reference profile's id, since the sketches' grids come from that reference.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from shipyard.errors import InvalidParameter
from shipyard.monitoring._operations import OperationsSketch
from shipyard.monitoring._reference import Reference
from shipyard.monitoring._sketch import CategoricalSketch, NumericSketch

__all__ = ["PROFILE_FORMAT_VERSION", "Sketch", "WindowProfile", "merge_profiles"]

PROFILE_FORMAT_VERSION = 1

Sketch = NumericSketch | CategoricalSketch


@dataclass
class WindowProfile:
    start: dt.datetime
    end: dt.datetime
    reference_id: str
    sketches: dict[str, Sketch]
    operations: OperationsSketch
    hashed: list[str] = field(default_factory=list)  # in_hash.* columns: not comparable

    @property
    def rows(self) -> int:
        return self.operations.rows

    @classmethod
    def build(
        cls, frame: pd.DataFrame, reference: Reference, start: dt.datetime, end: dt.datetime
    ) -> WindowProfile:
        sketches: dict[str, Sketch] = {}
        for column in reference.columns:
            values = frame[column.log_column] if column.log_column in frame.columns else None
            if column.kind == "numeric":
                assert column.grid is not None
                sketches[column.log_column] = (
                    NumericSketch.of(column.grid, values)
                    if values is not None
                    else NumericSketch.empty(column.grid)
                )
            else:
                sketches[column.log_column] = (
                    CategoricalSketch.of(column.categories, values)
                    if values is not None
                    else CategoricalSketch.empty(column.categories)
                )
        hashed = sorted(c for c in frame.columns if str(c).startswith("in_hash."))
        ops = OperationsSketch.of(frame)
        return cls(start, end, reference.profile_id, sketches, ops, hashed)

    def merge(self, other: WindowProfile) -> WindowProfile:
        if self.reference_id != other.reference_id:
            raise InvalidParameter("profiles built against different references do not merge")
        sketches: dict[str, Sketch] = {}
        for name, sketch in self.sketches.items():
            theirs = other.sketches.get(name)
            sketches[name] = sketch if theirs is None else _merge(sketch, theirs)
        for name, sketch in other.sketches.items():
            sketches.setdefault(name, sketch)
        return WindowProfile(
            min(self.start, other.start),
            max(self.end, other.end),
            self.reference_id,
            sketches,
            self.operations.merge(other.operations),
            sorted(set(self.hashed) | set(other.hashed)),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "window_profile_format_version": PROFILE_FORMAT_VERSION,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "reference_id": self.reference_id,
            "columns": {name: s.to_dict() for name, s in self.sketches.items()},
            "operations": self.operations.to_dict(),
            "hashed": self.hashed,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], reference: Reference) -> WindowProfile:
        version = data.get("window_profile_format_version")
        if version != PROFILE_FORMAT_VERSION:
            raise InvalidParameter(f"window profile format {version!r} is not supported")
        if data["reference_id"] != reference.profile_id:
            raise InvalidParameter("the window profile was built against another reference")
        sketches: dict[str, Sketch] = {}
        for column in reference.columns:
            stored = data["columns"].get(column.log_column)
            if stored is None:
                continue
            if column.kind == "numeric":
                assert column.grid is not None
                sketches[column.log_column] = NumericSketch.from_dict(column.grid, stored)
            else:
                sketches[column.log_column] = CategoricalSketch.from_dict(column.categories, stored)
        return cls(
            dt.datetime.fromisoformat(data["start"]),
            dt.datetime.fromisoformat(data["end"]),
            data["reference_id"],
            sketches,
            OperationsSketch.from_dict(data["operations"]),
            list(data.get("hashed", [])),
        )


def merge_profiles(profiles: Iterable[WindowProfile]) -> WindowProfile:
    """One profile covering all of ``profiles`` (at least one)."""
    it = iter(profiles)
    try:
        merged = next(it)
    except StopIteration:
        raise InvalidParameter("no window profiles to merge") from None
    for profile in it:
        merged = merged.merge(profile)
    return merged


def _merge(a: Sketch, b: Sketch) -> Sketch:
    if isinstance(a, NumericSketch) and isinstance(b, NumericSketch):
        return a.merge(b)
    if isinstance(a, CategoricalSketch) and isinstance(b, CategoricalSketch):
        return a.merge(b)
    raise InvalidParameter("a numeric and a categorical sketch do not merge")
