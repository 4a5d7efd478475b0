"""The monitoring report: per model version, every window's drift, performance and operations,
and the whole range merged into one profile (so a column's histogram covers the period)."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from shipyard.monitoring._drift import dataset_drift
from shipyard.monitoring._log import to_utc
from shipyard.monitoring._monitor import Baseline, Monitor
from shipyard.monitoring._performance import Task
from shipyard.monitoring._profile import merge_profiles
from shipyard.monitoring._windows import WindowSpec

__all__ = ["REPORT_FORMAT_VERSION", "build_report", "write_report"]

REPORT_FORMAT_VERSION = 1


def build_report(
    monitor: Monitor,
    model: str,
    since: dt.datetime | str,
    until: dt.datetime | str | None = None,
    window: WindowSpec | str = "hour",
    *,
    versions: Sequence[str] | None = None,
    task: Task = "auto",
    positive_label: Any = None,
    baseline: Baseline = None,
) -> dict[str, Any]:
    """Everything the HTML page and the API show, as one JSON-ready dict."""
    start, end = to_utc(since), to_utc(until) or monitor.now()
    assert start is not None
    spec = window if isinstance(window, WindowSpec) else WindowSpec.parse(window)
    sections = []
    for version in versions if versions is not None else monitor.versions(model):
        windows = monitor.windows(
            model,
            version,
            start,
            end,
            spec,
            task=task,
            positive_label=positive_label,
            baseline=baseline,
        )
        reference = monitor.reference(model, version)
        hourly = [] if spec.unit == "rows" else monitor.hourly_profiles(model, version, start, end)
        whole = merge_profiles(hourly) if hourly else None
        overall = None
        if whole is not None and whole.rows:
            seconds = (end - start).total_seconds()
            overall = {
                "rows": whole.rows,
                "operations": whole.operations.summary(seconds),
                "drift": dataset_drift(whole, reference, monitor.drift_settings)
                if reference.columns
                else None,
            }
        sections.append(
            {
                "version": version,
                "reference": {
                    "profile_id": reference.profile_id,
                    "row_count": reference.row_count,
                    "columns": len(reference.columns),
                }
                if reference.columns
                else None,
                "windows": windows,
                "overall": overall,
            }
        )
    report: dict[str, Any] = _finite(
        {
            "report_format_version": REPORT_FORMAT_VERSION,
            "model": model,
            "since": start.isoformat(),
            "until": end.isoformat(),
            "window": str(spec),
            "generated": monitor.now().isoformat(timespec="seconds"),
            "drift_settings": monitor.drift_settings.model_dump(),
            "versions": sections,
        }
    )
    return report


def _finite(value: Any) -> Any:
    """NaN and infinities become None, so the JSON is strict (browsers refuse ``NaN``)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def write_report(report: Mapping[str, Any], output: str | Path) -> list[Path]:
    """Write ``<output>.json`` and ``<output>.html`` (``output`` without a suffix, or either)."""
    from shipyard.monitoring._html import render_html

    base = Path(output)
    if base.suffix in (".json", ".html"):
        base = base.with_suffix("")
    base.parent.mkdir(parents=True, exist_ok=True)
    json_path, html_path = base.with_suffix(".json"), base.with_suffix(".html")
    json_path.write_text(json.dumps(report, indent=1, default=str, allow_nan=False))
    html_path.write_text(render_html(report))
    return [json_path, html_path]
