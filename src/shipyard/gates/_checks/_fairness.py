"""The fairness check: a metric computed per group of a column; the gap between the best and
the worst group (with enough rows to mean something) stays under a bound."""

from __future__ import annotations

from typing import Any

import numpy as np

from shipyard.gates._checks._common import fmt, result
from shipyard.gates._metrics import Outputs, metric_value, resolve_metric
from shipyard.gates._policy import FairnessCheck
from shipyard.gates._result import CheckResult, Plot
from shipyard.gates._subject import GateContext

__all__ = ["run_fairness"]


def run_fairness(check: FairnessCheck, ctx: GateContext) -> CheckResult:
    column = check.group_column
    bounds = {"max_gap": check.max_gap, "min_group_rows": check.min_group_rows}
    if column not in ctx.data.columns:
        return result(
            check, [f"the evaluation data has no column {column!r} to group by"], "",
            bounds=bounds,
        )  # fmt: skip
    spec = resolve_metric(check.metric, check.params)
    outputs = ctx.outputs(ctx.candidate)
    y, classes, positive = ctx.y_true, ctx.classes, ctx.positive
    groups = ctx.data[column].astype("object").fillna("(missing)").to_numpy()
    table: list[dict[str, Any]] = []
    values: dict[str, float] = {}
    for group in sorted(set(groups), key=str):
        mask = groups == group
        rows = int(mask.sum())
        row: dict[str, Any] = {"group": str(group), "rows": rows}
        if rows >= check.min_group_rows:
            subset = _subset(outputs, mask)
            values[str(group)] = metric_value(spec, y[mask], subset, positive, classes)
            row[check.metric] = values[str(group)]
        else:
            row[check.metric] = None
            row["note"] = f"fewer than {check.min_group_rows} rows: left out"
        table.append(row)
    if len(values) < 2:
        failure = (
            f"fewer than two groups of {column!r} have {check.min_group_rows} rows or more, "
            "so no gap can be measured"
        )
        return result(check, [failure], "", bounds=bounds, table=table)
    best = max(values, key=values.__getitem__)
    worst = min(values, key=values.__getitem__)
    gap = values[best] - values[worst]
    described = (
        f"{check.metric} gap between groups of {column!r} is {fmt(gap)} "
        f"({best}: {fmt(values[best])}, {worst}: {fmt(values[worst])})"
    )
    failures = (
        [f"{described}, above the maximum {fmt(check.max_gap)}"] if gap > check.max_gap else []
    )
    plot = Plot(
        title=f"{check.metric} by {column}",
        kind="bars",
        x=list(values),
        series={check.metric: list(values.values())},
        x_label=column,
        y_label=check.metric,
    )
    return result(
        check, failures, f"{described}, at most {fmt(check.max_gap)}",
        measured={"gap": gap, "groups": values}, bounds=bounds, table=table, plots=[plot],
    )  # fmt: skip


def _subset(outputs: Outputs, mask: np.ndarray[Any, Any]) -> Outputs:
    proba = outputs.proba[mask] if outputs.proba is not None else None
    return Outputs(outputs.labels[mask], proba, outputs.classes)
