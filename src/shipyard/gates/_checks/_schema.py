"""The schema check: the evaluation data fits the candidate's signature, and the candidate's
inputs do not break the baseline's. Removing, retyping or newly requiring an input column
breaks callers written against the version in production; adding an optional one does not."""

from __future__ import annotations

from typing import Any

from shipyard.gates._checks._common import result
from shipyard.gates._policy import SchemaCheck
from shipyard.gates._result import CheckResult
from shipyard.gates._subject import GateContext, Subject
from shipyard.models import ColSpec, Schema, describe_spec

__all__ = ["input_changes", "run_schema"]

_PROBE_ROWS = 100


def run_schema(check: SchemaCheck, ctx: GateContext) -> CheckResult:
    failures: list[str] = []
    table: list[dict[str, Any]] = []
    inputs = _inputs(ctx.candidate)
    if inputs is None:
        failures.append(f"the candidate ({ctx.candidate.name}) has no input signature to check")
    else:
        failures.extend(_data_fits(ctx, inputs))
    baseline = ctx.baseline
    if check.against_baseline and baseline is not None and inputs is not None:
        before = _inputs(baseline)
        if before is not None:
            table = input_changes(before, inputs)
            breaking = [row for row in table if row["breaking"]]
            if breaking:
                listed = ", ".join(f"{row['column']!r} {row['change']}" for row in breaking[:5])
                listed += f" (and {len(breaking) - 5} more)" if len(breaking) > 5 else ""
                failures.append(
                    f"{len(breaking)} breaking input change(s) against the baseline "
                    f"({baseline.name}): {listed}; allowed: 0"
                )
    columns = len(inputs.specs) if inputs is not None else 0
    compared = f" and does not break the baseline ({baseline.name})" if baseline else ""
    return result(
        check, failures,
        f"the evaluation data fits the candidate's {columns} input columns{compared}",
        measured={"breaking_changes": sum(1 for r in table if r["breaking"])},
        bounds={"breaking_changes": 0}, table=table,
    )  # fmt: skip


def _inputs(subject: Subject) -> Schema | None:
    signature = subject.signature
    return signature.inputs if signature is not None and signature.inputs is not None else None


def _data_fits(ctx: GateContext, inputs: Schema) -> list[str]:
    failures: list[str] = []
    if not inputs.is_tensor:
        missing = [
            s.name for s in inputs.specs
            if isinstance(s, ColSpec) and s.required and s.name not in ctx.data.columns
        ]  # fmt: skip
        if missing:
            failures.append(
                f"the evaluation data lacks {len(missing)} required input column(s) of the "
                f"signature: {', '.join(map(repr, missing))}"
            )
            return failures
    probe = ctx.features(ctx.candidate).head(_PROBE_ROWS)
    try:
        ctx.candidate.model.predict(probe)
    except Exception as exc:
        failures.append(f"the evaluation data does not fit the signature: {exc}")
    return failures


def input_changes(before: Schema, after: Schema) -> list[dict[str, Any]]:
    """One row per input column that differs between two signatures, ``breaking`` or not."""
    if before.is_tensor or after.is_tensor:
        same = before.to_json() == after.to_json()
        change = (
            "unchanged"
            if same
            else f"tensor inputs changed from {before.to_json()} to {after.to_json()}"
        )
        return [] if same else [{"column": "(tensors)", "change": change, "breaking": True}]
    old = {s.name: s for s in before.specs if isinstance(s, ColSpec)}
    new = {s.name: s for s in after.specs if isinstance(s, ColSpec)}
    rows: list[dict[str, Any]] = []
    for name, spec in old.items():
        if name not in new:
            rows.append(_row(name, "removed", spec, None, True))
        elif new[name].type != spec.type:
            change = f"retyped from {describe_spec(spec)} to {describe_spec(new[name])}"
            rows.append(_row(name, change, spec, new[name], True))
        elif new[name].required and not spec.required:
            rows.append(_row(name, "now required", spec, new[name], True))
    for name, spec in new.items():
        if name not in old:
            change = "added, required" if spec.required else "added, optional"
            rows.append(_row(name, change, None, spec, spec.required))
    return rows


def _row(
    name: str | None, change: str, before: ColSpec | None, after: ColSpec | None, breaking: bool
) -> dict[str, Any]:
    return {
        "column": name,
        "change": change,
        "baseline": describe_spec(before) if before else None,
        "candidate": describe_spec(after) if after else None,
        "breaking": breaking,
    }
