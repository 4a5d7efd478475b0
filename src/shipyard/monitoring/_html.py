"""A self-contained HTML page for a monitoring report: inline SVG charts, no scripts, no
network (the page opens the same from a laptop, a CI artifact or an email)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["render_html"]

_CSS = """
body{font:14px system-ui,sans-serif;margin:24px;color:#1d2330;max-width:1200px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px}h3{font-size:15px}
table{border-collapse:collapse;margin:8px 0}td,th{padding:3px 8px;border-bottom:1px solid #e3e6ea;
text-align:left;vertical-align:middle}th{background:#f5f6f8}.bad{color:#b42318;font-weight:600}
.ok{color:#1a7f37}.muted{color:#6b7280}.charts{display:flex;flex-wrap:wrap;gap:16px}
figure{margin:0}figcaption{font-size:12px;color:#6b7280}
"""
_COLORS = ("#2563eb", "#dc2626", "#059669", "#d97706")


def render_html(report: Mapping[str, Any]) -> str:
    title = f"Monitoring report: {report['model']}"
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f"<p class='muted'>{_e(report['since'])} to {_e(report['until'])}, "
        f"windows: {_e(report['window'])}, generated {_e(report['generated'])}</p>",
    ]
    if not report["versions"]:
        parts.append("<p>No logged predictions for this model.</p>")
    for section in report["versions"]:
        parts.append(_version(section, report["drift_settings"]))
    parts.append("</body></html>")
    return "".join(parts)


def _version(section: Mapping[str, Any], settings: Mapping[str, Any]) -> str:
    windows = section["windows"]
    labels = [w["start"][5:16].replace("T", " ") for w in windows]
    out = [f"<h2>Version {_e(section['version'])}</h2>"]
    if section["reference"] is None:
        out.append("<p class='muted'>No reference profile: drift is not computed.</p>")
    ops = [w["operations"] for w in windows]
    out.append("<h3>Operations</h3><div class='charts'>")
    out.append(
        _chart(
            "latency (ms)",
            labels,
            {"p50": [o["latency_p50_ms"] for o in ops], "p99": [o["latency_p99_ms"] for o in ops]},
        )
    )
    out.append(_chart("error rate", labels, {"error rate": [o["error_rate"] for o in ops]}))
    out.append(_chart("requests", labels, {"requests": [o["requests"] for o in ops]}))
    out.append("</div>")
    perf = [w["performance"] for w in windows]
    if any(p for p in perf):
        names = sorted({k for p in perf if p for k, v in p["metrics"].items() if v is not None})
        series = {n: [(p["metrics"].get(n) if p else None) for p in perf] for n in names[:4]}
        out.append("<h3>Realized performance</h3><div class='charts'>")
        out.append(_chart("metrics on labelled rows", labels, series))
        labelled = [p["labelled_rows"] if p else 0 for p in perf]
        out.append(_chart("labelled rows", labels, {"labelled": labelled}))
        out.append("</div>")
    drifts = [w["drift"] for w in windows]
    if any(d for d in drifts):
        share = [d["drift_share"] if d else None for d in drifts]
        out.append("<h3>Data drift</h3><div class='charts'>")
        out.append(
            _chart("share of drifted columns", labels, {"share": share}, settings["drift_share"])
        )
        out.append("</div>")
        out.append(_columns(section, drifts, labels))
    return "".join(out)


def _columns(
    section: Mapping[str, Any], drifts: Sequence[Mapping[str, Any] | None], labels: list[str]
) -> str:
    overall = (section.get("overall") or {}).get("drift") or {}
    rows = [
        "<table><tr><th>column</th><th>kind</th><th>method</th><th>statistic (period)</th>"
        "<th>threshold</th><th>drifted windows</th><th>per window</th>"
        "<th>distribution (period): reference / current</th></tr>"
    ]
    for column in overall.get("columns", []):
        name = column["log_column"]
        per_window = [_find(d, name) for d in drifts]
        stats = [c["statistic"] if c else None for c in per_window]
        flagged = sum(1 for c in per_window if c and c["drifted"])
        css = "bad" if column["drifted"] else "ok"
        rows.append(
            f"<tr><td>{_e(column['column'])}</td><td>{_e(column['kind'])}</td>"
            f"<td>{_e(column['method'] or '-')}</td>"
            f"<td class='{css}'>{_num(column.get('statistic'))}</td>"
            f"<td>{_num(column.get('threshold'))}</td><td>{flagged} / {len(drifts)}</td>"
            f"<td>{_spark(stats)}</td><td>{_distribution(column)}</td></tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def _find(drift: Mapping[str, Any] | None, name: str) -> Mapping[str, Any] | None:
    if not drift:
        return None
    return next((c for c in drift["columns"] if c["log_column"] == name), None)


def _distribution(column: Mapping[str, Any]) -> str:
    if "histogram" in column:
        hist = column["histogram"]
        ref = [0.0, *hist["reference"], 0.0]
        cur = [hist["below"], *hist["current"], hist["above"]]
    elif "categories" in column:
        ref, cur = column["categories"]["reference"], column["categories"]["current"]
    else:
        return ""
    width, height = 220, 40
    step = width / max(len(ref), 1)
    top = max([*ref, *cur, 1e-9])
    bars = []
    for i, (r, c) in enumerate(zip(ref, cur, strict=True)):
        for j, (value, color) in enumerate(((r, "#9ca3af"), (c, _COLORS[0]))):
            h = height * value / top
            x = i * step + j * step / 2
            bars.append(
                f"<rect x='{x:.1f}' y='{height - h:.1f}' width='{step / 2:.1f}' "
                f"height='{h:.1f}' fill='{color}'/>"
            )
    return f"<svg width='{width}' height='{height}'>{''.join(bars)}</svg>"


def _spark(values: Sequence[float | None]) -> str:
    return _svg_lines({"": list(values)}, 140, 30, None, axes=False)


def _chart(
    title: str,
    labels: list[str],
    series: Mapping[str, Sequence[float | None]],
    threshold: float | None = None,
) -> str:
    legend = " ".join(
        f"<span style='color:{_COLORS[i % 4]}'>&#9632; {_e(n)}</span>" for i, n in enumerate(series)
    )
    span = f"{_e(labels[0])} to {_e(labels[-1])}" if labels else ""
    svg = _svg_lines(series, 360, 140, threshold, axes=True)
    return f"<figure>{svg}<figcaption>{_e(title)}: {legend} <br>{span}</figcaption></figure>"


def _svg_lines(
    series: Mapping[str, Sequence[float | None]],
    width: int,
    height: int,
    threshold: float | None,
    axes: bool,
) -> str:
    values = [v for s in series.values() for v in s if v is not None]
    if threshold is not None:
        values.append(threshold)
    if not values:
        return f"<svg width='{width}' height='{height}'></svg>"
    low, high = min(0.0, min(values)), max(values)
    high = high if high > low else low + 1.0
    pad = 28 if axes else 2
    n = max(len(s) for s in series.values())

    def x(i: int) -> float:
        return pad + (width - pad - 4) * (i / max(n - 1, 1))

    def y(v: float) -> float:
        return height - pad / 2 - (height - pad) * (v - low) / (high - low)

    out = [f"<svg width='{width}' height='{height}'>"]
    if axes:
        out.append(
            f"<line x1='{pad}' y1='{y(low):.1f}' x2='{width}' y2='{y(low):.1f}' stroke='#ccc'/>"
            f"<text x='0' y='{y(high) + 4:.1f}' font-size='10'>{_num(high)}</text>"
            f"<text x='0' y='{y(low):.1f}' font-size='10'>{_num(low)}</text>"
        )
    if threshold is not None:
        out.append(
            f"<line x1='{pad}' y1='{y(threshold):.1f}' x2='{width}' y2='{y(threshold):.1f}' "
            "stroke='#dc2626' stroke-dasharray='4 3'/>"
        )
    for k, points in enumerate(series.values()):
        coords = [f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(points) if v is not None]
        color = _COLORS[k % 4]
        if len(coords) > 1:
            out.append(
                f"<polyline fill='none' stroke='{color}' stroke-width='1.5' "
                f"points='{' '.join(coords)}'/>"
            )
        for c in coords if len(coords) <= 48 else []:
            cx, cy = c.split(",")
            out.append(f"<circle cx='{cx}' cy='{cy}' r='2' fill='{color}'/>")
    out.append("</svg>")
    return "".join(out)


def _num(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}"
    return _e(str(value))


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)
