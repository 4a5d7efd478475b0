"""Running a policy's checks over a candidate, an optional baseline and the evaluation data.

This is the pure part of a gate: no registry, no files written. Each check runs on its own;
one that raises (the model crashed on the evaluation data, the policy asked for something the
model cannot give) becomes a failed result saying why, so one broken check never hides the
verdicts of the others.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pandas as pd

from shipyard.errors import ShipyardError
from shipyard.gates import _checks
from shipyard.gates._policy import Check, Policy
from shipyard.gates._result import CheckResult
from shipyard.gates._subject import GateContext, PredictionFailed, Subject

__all__ = ["evaluate"]

_RUNNERS: dict[str, Callable[[Any, GateContext], CheckResult]] = {
    "calibration": _checks.run_calibration,
    "fairness": _checks.run_fairness,
    "latency": _checks.run_latency,
    "metric": _checks.run_metric,
    "robustness": _checks.run_robustness,
    "schema": _checks.run_schema,
    "size": _checks.run_size,
    "stability": _checks.run_stability,
    "vulnerabilities": _checks.run_vulnerabilities,
}


def evaluate(
    candidate: Subject,
    baseline: Subject | None,
    data: pd.DataFrame,
    policy: Policy,
    *,
    on_result: Callable[[CheckResult], None] | None = None,
) -> list[CheckResult]:
    """Every check of ``policy``, in order; ``on_result`` sees each verdict as it lands."""
    context = GateContext(candidate, baseline, data, policy)
    results: list[CheckResult] = []
    for check in policy.checks:
        outcome = _run_one(check, context)
        results.append(outcome)
        if on_result is not None:
            on_result(outcome)
    return results


def _run_one(check: Check, context: GateContext) -> CheckResult:
    start = time.perf_counter()
    try:
        outcome = _RUNNERS[check.type](check, context)
    except PredictionFailed as exc:
        outcome = _failed(check, str(exc))
    except ShipyardError as exc:
        outcome = _failed(check, exc.message)
    except Exception as exc:  # a check must not take the gate down: report it as failed
        outcome = _failed(check, f"the check raised {type(exc).__name__}: {exc}")
    outcome.seconds = time.perf_counter() - start
    return outcome


def _failed(check: Check, why: str) -> CheckResult:
    return CheckResult(
        name=check.label,
        type=check.type,
        passed=False,
        message=f"{check.label}: FAILED: {why}",
        blocking=check.blocking,
    )
