"""The monitoring service: window profiles from the log (cached per closed hour), drift against
each version's reference, operational health, and realized performance from joined labels.

An hour is profiled once it is closed (its end plus ``grace`` has passed) and the profile is kept
under ``<state dir>/profiles/``; later reports and policy runs merge stored hours instead of reading
raw rows again. Open hours are profiled on every call and not stored.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd

from shipyard.errors import InvalidParameter
from shipyard.monitoring._aggregates import stored_input_profiles
from shipyard.monitoring._drift import DriftSettings, dataset_drift
from shipyard.monitoring._labels import LabelStore, join_labels
from shipyard.monitoring._log import list_versions, read_log, to_utc
from shipyard.monitoring._performance import Task, realized_metrics
from shipyard.monitoring._profile import WindowProfile, merge_profiles
from shipyard.monitoring._reference import Reference
from shipyard.monitoring._windows import HOUR, WindowSpec, floor_hour, hours_between
from shipyard.settings import S3Settings

__all__ = ["Baseline", "Clock", "Monitor", "ReferenceSource", "WindowResult"]

Baseline = Mapping[str, float] | Callable[[str], Mapping[str, float] | None] | None
Clock = Callable[[], dt.datetime]
ReferenceSource = Callable[[str, str], Reference | None]
WindowResult = dict[str, Any]

_NO_REFERENCE = Reference((), 0, "none")


class Monitor:
    def __init__(
        self,
        log_root: str | Path,
        state_dir: str | Path,
        references: ReferenceSource | Reference | None = None,
        *,
        drift: DriftSettings | None = None,
        clock: Clock | None = None,
        grace: dt.timedelta = dt.timedelta(minutes=5),
        s3: S3Settings | None = None,
    ) -> None:
        self.log_root = log_root
        self.state_dir = Path(state_dir)
        self.drift_settings = drift or DriftSettings()
        self.labels = LabelStore(self.state_dir / "labels", clock)
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._grace = grace
        self._s3 = s3
        self._references = references
        self._resolved: dict[tuple[str, str], Reference] = {}

    def now(self) -> dt.datetime:
        return to_utc(self._clock()) or dt.datetime.now(dt.UTC)

    def versions(self, model: str) -> list[str]:
        return list_versions(self.log_root, model, self._s3)

    def reference(self, model: str, version: str) -> Reference:
        key = (model, version)
        if key not in self._resolved:
            source = self._references
            found = source(model, version) if callable(source) else source
            self._resolved[key] = found or _NO_REFERENCE
        return self._resolved[key]

    # -- profiles ---------------------------------------------------------------------------
    def hourly_profiles(
        self, model: str, version: str, since: dt.datetime, until: dt.datetime
    ) -> list[WindowProfile]:
        reference = self.reference(model, version)
        hours = hours_between(since, until)
        found = {h: self._load(model, version, reference, h) for h in hours}
        todo = [h for h, p in found.items() if p is None]
        if todo:
            frame = read_log(self.log_root, model, version, todo[0], todo[-1] + HOUR, self._s3)
            buckets = _hour_buckets(frame)
            summaries = (  # inputs of an "aggregates only" log
                stored_input_profiles(
                    self.log_root, model, version, reference, todo[0], todo[-1] + HOUR, self._s3
                )
                if reference.columns
                else {}
            )
            for hour in todo:
                rows = buckets.get(hour, frame.iloc[0:0])
                profile = WindowProfile.build(rows, reference, hour, hour + HOUR)
                if hour in summaries:
                    profile = profile.merge(summaries[hour])
                if hour + HOUR + self._grace <= self.now():
                    self._store(model, version, profile)
                found[hour] = profile
        return [p for h in hours if (p := found[h]) is not None]

    def profiles(
        self,
        model: str,
        version: str,
        since: dt.datetime,
        until: dt.datetime,
        window: WindowSpec,
    ) -> list[WindowProfile]:
        if window.unit == "rows":
            return self._row_profiles(model, version, since, until, window.rows)
        hourly = self.hourly_profiles(model, version, since, until)
        if window.unit == "hour":
            return hourly
        days: dict[dt.date, list[WindowProfile]] = {}
        for profile in hourly:
            days.setdefault(profile.start.date(), []).append(profile)
        merged = []
        for day, group in sorted(days.items()):  # a day starts at midnight, even mid-range
            midnight = dt.datetime.combine(day, dt.time(), dt.UTC)
            whole = merge_profiles(group)
            merged.append(replace(whole, start=midnight, end=midnight + dt.timedelta(days=1)))
        return merged

    def _row_profiles(
        self, model: str, version: str, since: dt.datetime, until: dt.datetime, size: int
    ) -> list[WindowProfile]:
        reference = self.reference(model, version)
        frame = read_log(self.log_root, model, version, since, until, self._s3)
        profiles = []
        for first in range(0, len(frame), size):
            rows = frame.iloc[first : first + size]
            start = rows["timestamp"].iloc[0].to_pydatetime()
            end = rows["timestamp"].iloc[-1].to_pydatetime() + dt.timedelta(microseconds=1)
            profiles.append(WindowProfile.build(rows, reference, start, end))
        return profiles

    def _path(self, model: str, version: str, reference: Reference, hour: dt.datetime) -> Path:
        return (
            self.state_dir
            / "profiles"
            / f"model={quote(model, safe='')}"
            / f"version={quote(version, safe='')}"
            / f"reference={reference.profile_id}"
            / f"{hour:%Y-%m-%dT%H}.json"
        )

    def _load(
        self, model: str, version: str, reference: Reference, hour: dt.datetime
    ) -> WindowProfile | None:
        path = self._path(model, version, reference, hour)
        if not path.exists():
            return None
        try:
            return WindowProfile.from_dict(json.loads(path.read_text()), reference)
        except (ValueError, KeyError, InvalidParameter):
            return None  # unreadable or stale: profile the hour again

    def _store(self, model: str, version: str, profile: WindowProfile) -> None:
        path = self._path(model, version, self.reference(model, version), profile.start)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(profile.to_dict(), separators=(",", ":")))
        tmp.replace(path)

    # -- results ----------------------------------------------------------------------------
    def windows(
        self,
        model: str,
        version: str,
        since: dt.datetime | str,
        until: dt.datetime | str | None = None,
        window: WindowSpec | str = "hour",
        *,
        task: Task = "auto",
        positive_label: Any = None,
        baseline: Baseline = None,
    ) -> list[WindowResult]:
        """Drift, operations and realized performance for each window of one version;
        ``baseline`` is the model's evaluation metrics, or a function of the version giving them."""
        if callable(baseline):
            baseline = baseline(version)
        start, end = self._range(since, until)
        spec = window if isinstance(window, WindowSpec) else WindowSpec.parse(window)
        reference = self.reference(model, version)
        profiles = self.profiles(model, version, start, end, spec)
        performance = self._performance(model, version, profiles, task, positive_label, baseline)
        results = []
        for profile, perf in zip(profiles, performance, strict=True):
            seconds = (profile.end - profile.start).total_seconds()
            results.append(
                {
                    "start": profile.start.isoformat(),
                    "end": profile.end.isoformat(),
                    "rows": profile.rows,
                    "operations": profile.operations.summary(seconds),
                    "drift": dataset_drift(profile, reference, self.drift_settings)
                    if reference.columns and profile.rows
                    else None,
                    "performance": perf,
                }
            )
        return results

    def _range(
        self, since: dt.datetime | str, until: dt.datetime | str | None
    ) -> tuple[dt.datetime, dt.datetime]:
        start = to_utc(since)
        end = to_utc(until) or self.now()
        assert start is not None
        if end <= start:
            raise InvalidParameter(f"until ({end.isoformat()}) must be after since")
        return start, end

    def _performance(
        self,
        model: str,
        version: str,
        profiles: list[WindowProfile],
        task: Task,
        positive_label: Any,
        baseline: Mapping[str, float] | None,
    ) -> list[dict[str, Any] | None]:
        labels = self.labels.read()
        if labels.empty or not profiles:
            return [None] * len(profiles)
        frame = read_log(
            self.log_root, model, version, profiles[0].start, profiles[-1].end, self._s3
        )
        joined = join_labels(frame, labels)
        results: list[dict[str, Any] | None] = []
        for profile in profiles:
            stamps = joined["timestamp"]
            inside = joined[(stamps >= profile.start) & (stamps < profile.end)]
            results.append(
                realized_metrics(inside, task, positive_label, baseline) if len(inside) else None
            )
        return results


def _hour_buckets(frame: pd.DataFrame) -> dict[dt.datetime, pd.DataFrame]:
    if frame.empty:
        return {}
    hours = frame["timestamp"].dt.floor("h")
    return {
        floor_hour(key.to_pydatetime()): group for key, group in frame.groupby(hours, sort=True)
    }
