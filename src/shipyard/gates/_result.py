"""What a gate produces: one ``CheckResult`` per check and the ``GateReport`` around them.

Results hold numbers and plot *data*, not pictures: the JSON report stays small and diffable,
and the HTML page draws the plots from the same data.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["REPORT_FORMAT_VERSION", "CheckResult", "GateReport", "Plot"]

REPORT_FORMAT_VERSION = 1

PlotKind = Literal["bars", "line"]


@dataclass(frozen=True, slots=True)
class Plot:
    """A small chart: ``series`` maps a legend name to y values over ``x``; ``marks`` are
    vertical lines at an x value, such as a bound."""

    title: str
    kind: PlotKind
    x: list[Any]
    series: dict[str, list[float]]
    x_label: str = ""
    y_label: str = ""
    marks: dict[str, float] = field(default_factory=dict)


@dataclass(slots=True)
class CheckResult:
    """One check's verdict: ``message`` names the check, the measured value and the bound."""

    name: str
    type: str
    passed: bool
    message: str
    blocking: bool = True
    measured: dict[str, Any] = field(default_factory=dict)
    bounds: dict[str, Any] = field(default_factory=dict)
    table: list[dict[str, Any]] = field(default_factory=list)
    plots: list[Plot] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class GateReport:
    """The decision on one candidate: ``passed`` when every blocking check passed."""

    candidate: str
    policy: str
    promote_to: str
    checks: list[CheckResult]
    baseline: str | None = None
    model_name: str | None = None
    version: str | None = None
    baseline_version: str | None = None
    data: str | None = None
    rows: int = 0
    started: str = ""
    seconds: float = 0.0
    promoted: bool = False
    approval_request: str | None = None
    """The id of the approval request filed when the target alias is protected."""
    reason: str | None = None
    artifacts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    format_version: int = REPORT_FORMAT_VERSION

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks if c.blocking)

    @property
    def failures(self) -> list[CheckResult]:
        return [c for c in self.checks if c.blocking and not c.passed]

    def summary(self) -> dict[str, Any]:
        """The decision in a few fields: what the audit event records."""
        return {
            "passed": self.passed,
            "promote_to": self.promote_to,
            "promoted": self.promoted,
            "approval_request": self.approval_request,
            "candidate": self.candidate,
            "baseline": self.baseline,
            "policy": self.policy,
            "checks": {c.name: "passed" if c.passed else "failed" for c in self.checks},
            "failures": [c.message for c in self.failures],
        }

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["passed"] = self.passed
        return data
