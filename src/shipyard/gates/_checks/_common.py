"""What every check shares: formatting numbers in messages, and building a result."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from shipyard.gates._policy import Check
from shipyard.gates._result import CheckResult, Plot

__all__ = ["fmt", "result"]


def fmt(value: Any) -> str:
    """Four significant digits, the way a reviewer reads a gate (0.9312, 1.24e-05, 12.5)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f"{value:.4g}"


def result(
    check: Check,
    failures: Sequence[str],
    passed_message: str,
    *,
    measured: dict[str, Any] | None = None,
    bounds: dict[str, Any] | None = None,
    table: list[dict[str, Any]] | None = None,
    plots: list[Plot] | None = None,
) -> CheckResult:
    """``failures`` (each naming the measured value and its bound) decide; the message starts
    with the check's name so a CI log line stands on its own."""
    passed = not failures
    text = passed_message if passed else "; ".join(failures)
    return CheckResult(
        name=check.label,
        type=check.type,
        passed=passed,
        message=f"{check.label}: {'passed' if passed else 'FAILED'}: {text}",
        blocking=check.blocking,
        measured=measured or {},
        bounds=bounds or {},
        table=table or [],
        plots=plots or [],
    )
