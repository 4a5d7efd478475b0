"""The robustness check: rows the model will meet in production but rarely in training.

For each case and each column it applies to, a few evaluation rows are perturbed (a missing
value, an outlier far outside the column's range, an empty string, a category never seen) and
predicted; so are the policy's own edge cases. The model must answer, with finite values inside
the policy's bounds (and, for classifiers, one of the known classes). Each failure names the
case, the column and what happened.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd

from shipyard.gates._checks._common import fmt, result
from shipyard.gates._policy import RobustnessCheck
from shipyard.gates._result import CheckResult
from shipyard.gates._subject import GateContext

__all__ = ["run_robustness"]

UNSEEN = "__shipyard_unseen_category__"
_Frame = pd.DataFrame


def _is_float(values: pd.Series) -> bool:
    return isinstance(values.dtype, np.dtype) and values.dtype.kind == "f"


def _is_number(values: pd.Series) -> bool:
    return isinstance(values.dtype, np.dtype) and values.dtype.kind in "fiu"


def _is_text(values: pd.Series) -> bool:
    if isinstance(values.dtype, pd.StringDtype | pd.CategoricalDtype):
        return True
    return values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) == "string"


def _missing(rows: _Frame, column: str) -> _Frame | None:
    out = rows.copy()
    values = out[column]
    if _is_text(values):
        out[column] = pd.Series([None] * len(out), index=out.index, dtype=object)
    else:
        out[column] = np.nan  # an integer column becomes float, as a null in JSON would
    return out


def _outliers(rows: _Frame, column: str, full: _Frame) -> _Frame | None:
    values = full[column]
    if not _is_number(values) or values.dtype.kind == "b":
        return None
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    reach = 10.0 * (high - low) + 1.0
    far = np.where(np.arange(len(rows)) % 2 == 0, high + reach, low - reach)
    out = rows.copy()
    dtype: Any = values.dtype  # a NumPy dtype: _is_number said so
    if dtype.kind in "iu":
        info = np.iinfo(dtype)  # type: ignore[type-var]
        far = np.clip(far, info.min, info.max)
    out[column] = far.astype(dtype)
    return out


def _text(value: str) -> Callable[[_Frame, str], _Frame | None]:
    def apply(rows: _Frame, column: str) -> _Frame | None:
        if not _is_text(rows[column]):
            return None
        out = rows.copy()
        out[column] = pd.Series([value] * len(out), index=out.index, dtype=object)
        return out

    return apply


def _cases(check: RobustnessCheck, rows: _Frame, full: _Frame) -> Iterator[tuple[str, str, _Frame]]:
    columns = [c for c in rows.columns if check.columns is None or c in check.columns]
    makers: dict[str, Callable[[_Frame, str], _Frame | None]] = {
        "missing_values": _missing,
        "outliers": lambda r, c: _outliers(r, c, full),
        "empty_strings": _text(""),
        "unseen_categories": _text(UNSEEN),
    }
    for case in check.cases:
        for column in columns:
            frame = makers[case](rows, column)
            if frame is not None:
                yield case, str(column), frame


def run_robustness(check: RobustnessCheck, ctx: GateContext) -> CheckResult:
    full = ctx.features(ctx.candidate)
    bounds = {"crashes": 0, "output_min": check.output_min, "output_max": check.output_max}
    bounds = {k: v for k, v in bounds.items() if v is not None}
    if full.empty:
        return result(check, ["the evaluation data has no rows to perturb"], "", bounds=bounds)
    rng = np.random.default_rng(check.seed)
    count = min(check.rows_per_case, len(full))
    rows = full.iloc[np.sort(rng.choice(len(full), count, replace=False))]
    known = set(ctx.classes.tolist()) if ctx.classes is not None else None
    table: list[dict[str, Any]] = []
    trials = [(case, column, frame) for case, column, frame in _cases(check, rows, full)]
    trials += [("edge_case", label, frame) for label, frame in _edge_cases(check, full)]
    for (case, column, frame), problem in zip(
        trials, _problems(ctx, trials, known, check), strict=True
    ):
        table.append(
            {"case": case, "column": column, "rows": len(frame), "outcome": problem or "ok"}
        )
    failed = [row for row in table if row["outcome"] != "ok"]
    failures = []
    if failed:
        listed = "; ".join(f"{r['case']} in {r['column']!r}: {r['outcome']}" for r in failed[:5])
        more = f" (and {len(failed) - 5} more)" if len(failed) > 5 else ""
        failures.append(
            f"{len(failed)} of {len(table)} perturbed inputs failed, allowed: 0: {listed}{more}"
        )
    applied = ", ".join(sorted({r["case"] for r in table}))
    return result(
        check, failures, f"the model answered all {len(table)} perturbed inputs ({applied})",
        measured={"trials": len(table), "failed": len(failed)}, bounds=bounds, table=table,
    )  # fmt: skip


def _edge_cases(check: RobustnessCheck, full: _Frame) -> Iterator[tuple[str, _Frame]]:
    for number, values in enumerate(check.edge_cases, start=1):
        unknown = [k for k in values if k not in full.columns]
        frame = full.iloc[[0]].copy()
        for key, value in values.items():
            if key in frame.columns:
                frame[key] = np.nan if value is None else value
        label = f"#{number} " + ", ".join(f"{k}={v!r}" for k, v in values.items())
        if unknown:
            label += f" (not input columns: {', '.join(map(repr, unknown))})"
        yield label, frame


def _problems(
    ctx: GateContext,
    trials: list[tuple[str, str, _Frame]],
    known: set[Any] | None,
    check: RobustnessCheck,
) -> list[str | None]:
    """Each trial's problem (None when fine). All trials go in one ``predict()`` first; only if
    that fails is each predicted alone, to say which ones fail and how."""
    if not trials:
        return []
    try:
        together = pd.concat([frame for _, _, frame in trials], ignore_index=True)
        labels = _predict(ctx, together)
    except Exception:
        return [_probe(ctx, frame, known, check) for _, _, frame in trials]
    found: list[str | None] = []
    start = 0
    for _, _, frame in trials:
        found.append(_judge(labels[start : start + len(frame)], known, check, ctx.task))
        start += len(frame)
    return found


def _predict(ctx: GateContext, frame: _Frame) -> np.ndarray[Any, Any]:
    answer = ctx.candidate.model.predict(frame)
    values = (
        answer.to_numpy() if isinstance(answer, pd.DataFrame | pd.Series) else np.asarray(answer)
    )
    return values[:, 0] if values.ndim == 2 and values.shape[1] == 1 else values


def _probe(
    ctx: GateContext, frame: _Frame, known: set[Any] | None, check: RobustnessCheck
) -> str | None:
    """What went wrong when predicting ``frame``, or None."""
    try:
        values = _predict(ctx, frame)
    except Exception as exc:
        text = str(exc).strip().splitlines()
        return f"crashed with {type(exc).__name__}: {text[0] if text else ''}"
    return _judge(values, known, check, ctx.task)


def _judge(
    values: np.ndarray[Any, Any], known: set[Any] | None, check: RobustnessCheck, task: str
) -> str | None:
    """What is wrong with the answers ``values``, or None."""
    if values.dtype.kind in "fiu":
        numbers = values.astype(float)
        if not np.all(np.isfinite(numbers)):
            return "answered a non-finite value (NaN or infinity)"
        if check.output_min is not None and numbers.min() < check.output_min:
            return f"answered {fmt(float(numbers.min()))}, below output_min {fmt(check.output_min)}"
        if check.output_max is not None and numbers.max() > check.output_max:
            return f"answered {fmt(float(numbers.max()))}, above output_max {fmt(check.output_max)}"
    if known is not None and task == "classification" and values.ndim == 1:
        strange = [v for v in values.tolist() if v not in known]
        if strange:
            return f"answered {strange[0]!r}, not one of the known classes"
    return None
