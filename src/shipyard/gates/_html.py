"""The report as one self-contained HTML page: tables, and plots drawn as inline SVG.

Plots are drawn with matplotlib when it is installed (``pip install 'shipyard-ml[gates]'``);
without it the page keeps every table and says the plots were left out. Nothing is fetched
from the network: the page opens the same from an artifact store, a CI log or an email.
"""

from __future__ import annotations

import html
import io
import itertools
import json
from collections.abc import Iterable
from typing import Any

from shipyard.gates._result import CheckResult, GateReport, Plot

__all__ = ["render_page", "render_report", "render_table", "svg_plot"]

_MAX_ROWS = 200
_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1100px;
color:#1d2330;padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #dde}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.88rem}
td,th{border:1px solid #d5d9e2;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f5f9}.pass{color:#11713a;font-weight:600}.fail{color:#b3261e;font-weight:600}
.info{color:#666}.badge{display:inline-block;padding:.2rem .7rem;border-radius:1rem;color:#fff}
.badge.pass{background:#11713a}.badge.fail{background:#b3261e}figure{margin:.5rem 0}
code{background:#f3f5f9;padding:0 .2rem}
"""


def _e(value: Any) -> str:
    return html.escape(_text(value))


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return "" if value is None else str(value)


def render_table(rows: list[dict[str, Any]], columns: Iterable[str] | None = None) -> str:
    if not rows:
        return ""
    names = (
        list(columns) if columns is not None else list(dict.fromkeys(k for r in rows for k in r))
    )
    head = "".join(f"<th>{_e(n)}</th>" for n in names)
    body = "".join(
        "<tr>" + "".join(f"<td>{_e(row.get(n))}</td>" for n in names) + "</tr>"
        for row in rows[:_MAX_ROWS]
    )
    more = (
        f"<p class=info>{len(rows) - _MAX_ROWS} more rows in report.json</p>"
        if len(rows) > _MAX_ROWS
        else ""
    )
    return f"<table><tr>{head}</tr>{body}</table>{more}"


def svg_plot(plot: Plot) -> str | None:
    """The plot as an ``<svg>`` element, or None when matplotlib is not installed."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    figure = Figure(figsize=(6.4, 3.2), dpi=100)
    axes = figure.subplots()
    for name, values in plot.series.items():
        if plot.kind == "bars":
            positions = list(range(len(plot.x))) if _is_text(plot.x) else plot.x
            width = _bar_width(positions)
            axes.bar(positions, values, width=width, label=name, alpha=0.8)
            if _is_text(plot.x):
                axes.set_xticks(positions, [str(x) for x in plot.x])
        else:
            axes.plot(plot.x, values, marker="o" if "perfect" not in name else None,
                      linestyle="--" if "perfect" in name else "-", label=name)  # fmt: skip
    for number, (name, at) in enumerate(plot.marks.items()):
        axes.axvline(
            at, color=("#b3261e", "#555", "#11713a")[number % 3], linestyle=":", label=name
        )
    axes.set_title(plot.title, fontsize=10)
    axes.set_xlabel(plot.x_label)
    axes.set_ylabel(plot.y_label)
    if len(plot.series) + len(plot.marks) > 1:
        axes.legend(fontsize=8)
    figure.tight_layout()
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    text = buffer.getvalue()
    return text[text.find("<svg") :]


def _is_text(values: list[Any]) -> bool:
    return any(isinstance(v, str) for v in values)


def _bar_width(positions: list[Any]) -> float:
    if len(positions) < 2:
        return 0.8
    return float(min(abs(b - a) for a, b in itertools.pairwise(positions)) or 1.0) * 0.9


def _check_section(result: CheckResult, plots: bool) -> str:
    status = "pass" if result.passed else "fail"
    word = "passed" if result.passed else "FAILED"
    blocking = "" if result.blocking else " <span class=info>(advisory: does not block)</span>"
    parts = [
        f"<h2>{_e(result.name)} <span class={status}>{word}</span>{blocking}</h2>",
        f"<p>{_e(result.message)}</p>",
    ]
    numbers = [
        {"": k, "measured": v, "bound": result.bounds.get(k)} for k, v in result.measured.items()
    ]
    numbers += [
        {"": k, "measured": None, "bound": v}
        for k, v in result.bounds.items()
        if k not in result.measured
    ]
    parts.append(render_table(numbers, ["", "measured", "bound"]))
    parts.append(render_table(result.table))
    for plot in result.plots if plots else []:
        drawn = svg_plot(plot)
        if drawn is None:
            parts.append(
                "<p class=info>Plots need matplotlib (pip install 'shipyard-ml[gates]').</p>"
            )
            break
        parts.append(f"<figure>{drawn}</figure>")
    return "\n".join(parts)


def render_page(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>{body}</body></html>"
    )


def render_report(report: GateReport, plots: bool = True) -> str:
    status = "pass" if report.passed else "fail"
    verdict = "PASSED" if report.passed else "FAILED"
    promoted = (
        f"; alias <code>{_e(report.promote_to)}</code> moved to this version"
        if report.promoted else ""
    )  # fmt: skip
    facts: list[dict[str, Any]] = [
        {"": "candidate", "value": report.candidate},
        {
            "": "baseline",
            "value": report.baseline or f"none (no version holds {report.promote_to!r})",
        },
        {"": "policy", "value": report.policy},
        {"": "evaluation data", "value": f"{report.data or 'in memory'} ({report.rows} rows)"},
        {"": "started (UTC)", "value": report.started},
        {"": "seconds", "value": round(report.seconds, 2)},
        {"": "reason", "value": report.reason},
        *({"": "note", "value": note} for note in report.notes),
    ]
    summary = [
        {
            "check": c.name,
            "type": c.type,
            "result": ("passed" if c.passed else "FAILED") + ("" if c.blocking else " (advisory)"),
            "message": c.message,
            "seconds": round(c.seconds, 3),
        }
        for c in report.checks
    ]
    body = "\n".join(
        [
            f"<h1>Promotion gate to <code>{_e(report.promote_to)}</code>: "
            f"<span class='badge {status}'>{verdict}</span></h1>",
            f"<p>{_e(report.candidate)}{promoted}</p>",
            render_table([f for f in facts if f["value"] is not None], ["", "value"]),
            render_table(summary),
            *(_check_section(c, plots) for c in report.checks),
        ]
    )
    return render_page(f"Gate {verdict}: {report.candidate}", body)
