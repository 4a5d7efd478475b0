"""The balanced scorecard: several candidates through the same policy, side by side.

The best offline metric is not always the best production model, so the ranking counts every
check: first the number of blocking checks passed, then the mean rank over each check's
headline number (the metric's value, the fairness gap, the calibration error, p99 latency,
package size, advisories ...), ties sharing a rank. Nothing is recorded or promoted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shipyard.gates._html import render_page, render_table
from shipyard.gates._policy import Policy
from shipyard.gates._registry import Registry
from shipyard.gates._result import CheckResult, GateReport
from shipyard.gates._runner import Gate, resolve_data, resolve_policy
from shipyard.settings import Settings

__all__ = ["Scorecard", "compare", "headline"]

_LOWER_IS_BETTER = {
    "fairness": "gap",
    "calibration": "ece",
    "stability": "changed_share",
    "schema": "breaking_changes",
    "robustness": "failed",
    "size": "bytes",
    "vulnerabilities": "blocking",
}
_LATENCY_KEYS = ("single_p99_ms", "batch_p99_ms", "single_p50_ms", "batch_p50_ms")


def headline(result: CheckResult) -> tuple[float | None, bool]:
    """(the number that sums up a check, whether higher is better)."""
    measured = result.measured
    if result.type == "metric":
        return measured.get("value"), bool(measured.get("greater_is_better", True))
    if result.type == "latency":
        key = next((k for k in _LATENCY_KEYS if k in result.bounds), "single_p99_ms")
        return measured.get(key), False
    name = _LOWER_IS_BETTER.get(result.type)
    value = measured.get(name) if name else None
    return (float(value) if isinstance(value, int | float) else None), False


@dataclass(slots=True)
class Scorecard:
    """``ranking`` lists candidates best first; ``rows`` has one row per check."""

    policy: str
    reports: list[GateReport]
    ranking: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    summary: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "ranking": self.ranking,
            "rows": self.rows,
            "summary": self.summary,
            "reports": [r.to_dict() for r in self.reports],
        }

    def to_html(self) -> str:
        body = (
            f"<h1>Scorecard: {len(self.reports)} candidates, policy {self.policy}</h1>"
            + render_table(self.summary)
            + render_table(self.rows)
        )
        return render_page(f"Scorecard {self.policy}", body)


def compare(
    model_uris: Sequence[str | Path],
    policy: Policy | str | Path,
    data: pd.DataFrame | str | Path | None = None,
    *,
    baseline: str | Path | None = None,
    tracking_uri: str | None = None,
    registry: Registry | None = None,
    trusted: bool = False,
    settings: Settings | None = None,
) -> Scorecard:
    """Every candidate through ``policy`` (against the same baseline), ranked."""
    rules, policy_name = resolve_policy(policy)
    frame, data_name = resolve_data(data, rules)
    settings = settings or Settings.from_env()
    gate = Gate(rules, policy_name, frame, data_name, registry, tracking_uri, trusted, settings)
    reports = [gate.assess(str(uri), baseline)[0] for uri in model_uris]
    return _scorecard(policy_name, reports)


def _scorecard(policy: str, reports: list[GateReport]) -> Scorecard:
    names = [r.candidate for r in reports]
    ranks = np.zeros((len(reports), 0))
    rows: list[dict[str, Any]] = []
    for index, check in enumerate(reports[0].checks if reports else []):
        results = [r.checks[index] for r in reports]
        values = [headline(c) for c in results]
        better = values[0][1]
        numbers = [v[0] for v in values]
        column = _ranks(numbers, better)
        ranks = np.column_stack([ranks, column])
        row: dict[str, Any] = {"check": check.name}
        for name, result, number in zip(names, results, numbers, strict=True):
            mark = "pass" if result.passed else "FAIL"
            row[name] = f"{mark} {number:.4g}" if number is not None else mark
        rows.append(row)
    passed = [sum(c.passed for c in r.checks if c.blocking) for r in reports]
    mean_rank = ranks.mean(axis=1) if ranks.shape[1] else np.zeros(len(reports))
    order = sorted(range(len(reports)), key=lambda i: (-passed[i], mean_rank[i]))
    summary = [
        {
            "rank": place,
            "candidate": names[i],
            "decision": "passed" if reports[i].passed else "failed",
            "blocking checks passed": f"{passed[i]} of {_blocking(reports[i])}",
            "mean rank over checks": round(float(mean_rank[i]), 2),
        }
        for place, i in enumerate(order, start=1)
    ]
    return Scorecard(policy, reports, [names[i] for i in order], rows, summary)


def _blocking(report: GateReport) -> int:
    return sum(c.blocking for c in report.checks)


def _ranks(numbers: list[float | None], greater_is_better: bool) -> np.ndarray[Any, Any]:
    """1 = best; ties share the mean rank; a missing number ranks last."""
    worst = float("-inf") if greater_is_better else float("inf")
    keys = [worst if n is None or not np.isfinite(n) else n for n in numbers]
    series = pd.Series(keys, dtype=float)
    return series.rank(ascending=not greater_is_better, method="average").to_numpy()
