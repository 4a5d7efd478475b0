"""Tables (plain text and Markdown) and the JSON result file."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from _servers import LABELS
from _workloads import Workload

REFERENCES = ("mlflow", "fasttrackml")


@dataclass
class Result:
    workload: str
    server: str
    backend: str
    variant: str = ""
    median: float | None = None
    p99: float | None = None
    samples: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    missing: str | None = None  # "n/a" (not installed) or an error message

    @property
    def label(self) -> str:
        name = LABELS[self.server]
        return f"{name} ({self.variant})" if self.variant else name


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}" if abs(value) >= 0.01 else f"{value:.2e}"


def speedup(value: float | None, ref: float | None, higher_is_better: bool) -> str:
    """How many times faster than the reference: >1 means faster."""
    if not value or not ref:
        return "-"
    ratio = value / ref if higher_is_better else ref / value
    return f"{ratio:.2f}x"


def _find(results: list[Result], wl: str, server: str, backend: str, variant: str) -> Result | None:
    for variant_try in (variant, ""):
        for r in results:
            key = (r.workload, r.server, r.backend, r.variant)
            if key == (wl, server, backend, variant_try):
                return r
    return None


def _cell(result: Result | None) -> str:
    if result is None:
        return "-"
    if result.missing:
        return "n/a" if result.missing == "n/a" else "error"
    return fmt(result.median)


def workload_rows(results: list[Result], wl: Workload, backend: str) -> list[list[str]]:
    rows = []
    for r in results:
        if r.workload != wl.key or r.backend != backend:
            continue
        row = [r.label, _cell(r)]
        if wl.has_p99:
            row.append("-" if r.missing else fmt(r.p99))
        for ref in REFERENCES:
            base = _find(results, wl.key, ref, backend, r.variant)
            value = None if r.missing else r.median
            ref_value = None if base is None or base.missing else base.median
            row.append("-" if ref == r.server else speedup(value, ref_value, wl.higher_is_better))
        rows.append(row)
    return rows


def workload_header(wl: Workload) -> list[str]:
    cols = ["server", f"median ({wl.unit})"]
    if wl.has_p99:
        cols.append(f"p99 ({wl.unit})")
    return [*cols, "vs MLflow", "vs FastTrackML"]


def text_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=False)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        out.append("  ".join(cells))
    return "\n".join(out)


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    out = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|",
    ]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(out)


def summary_rows(
    results: list[Result], workloads: list[Workload], backend: str, pending: str
) -> list[list[str]]:
    """One row per (workload, variant): value per server, then Shipyard's speed-ups."""
    rows = []
    keys = dict.fromkeys((r.workload, r.variant) for r in results if r.backend == backend)
    for wl in workloads:
        for variant in [v for (k, v) in keys if k == wl.key]:
            found = {s: _find(results, wl.key, s, backend, variant) for s in LABELS}
            cells = [
                _summary_cell(_exact(found[s], variant), wl, pending if s == "shipyard" else "n/a")
                for s in LABELS
            ]
            ship = found["shipyard"]
            ship_value = None if ship is None or ship.missing else ship.median
            ratios = [
                speedup(ship_value, _median(found[ref]), wl.higher_is_better) for ref in REFERENCES
            ]
            title = f"{wl.title}{f' [{variant}]' if variant else ''} ({wl.unit})"
            rows.append([title, *cells, *ratios])
    return rows


def _exact(result: Result | None, variant: str) -> Result | None:
    """Only the row of this variant: FastTrackML has no "1 worker" row to show twice."""
    return result if result is not None and result.variant == variant else None


def _median(result: Result | None) -> float | None:
    return None if result is None or result.missing else result.median


def _summary_cell(result: Result | None, wl: Workload, missing_text: str) -> str:
    if result is None or result.missing == "n/a":
        return missing_text if result is not None else "-"
    if result.missing:
        return "error"
    if wl.has_p99:
        return f"{fmt(result.median)} (p99 {fmt(result.p99)})"
    return fmt(result.median)


SUMMARY_HEADER = [
    "workload (unit)", "Shipyard", "MLflow", "FastTrackML",
    "Shipyard vs MLflow", "Shipyard vs FastTrackML",
]  # fmt: skip


def write_json(
    path: Path, meta: dict[str, Any], limits: dict[str, float], results: list[Result]
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"meta": meta, "limits": limits, "results": [asdict(r) for r in results]}
    path.write_text(json.dumps(doc, indent=2))
