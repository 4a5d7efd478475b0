"""The gate policy (``gates.yaml``): which checks a version must pass, with which bounds, and
which alias it moves to when it passes.

The file is validated by pydantic models; every error names the file, the line and the field
(``gates.yaml line 14: checks[2].max_gap: Input should be a valid number``), because a policy is
edited by hand and a CI job that says only "invalid" wastes an afternoon.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ByteSize,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from shipyard.errors import InvalidPolicy
from shipyard.gates._metrics import Response, resolve_metric
from shipyard.gates._yaml_lines import YamlDocument, parse_yaml

__all__ = [
    "CHECK_TYPES",
    "Bootstrap",
    "CalibrationCheck",
    "Check",
    "FairnessCheck",
    "InvalidPolicy",
    "LatencyCheck",
    "MetricCheck",
    "Policy",
    "RobustnessCheck",
    "SchemaCheck",
    "SizeCheck",
    "StabilityCheck",
    "VulnerabilityCheck",
    "load_policy",
    "parse_policy",
]

Severity = Literal["low", "medium", "high", "critical"]
RobustnessCase = Literal["missing_values", "outliers", "empty_strings", "unseen_categories"]
_ALL_CASES: tuple[RobustnessCase, ...] = (
    "missing_values", "outliers", "empty_strings", "unseen_categories",
)  # fmt: skip


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Check(_Strict):
    name: str | None = None
    blocking: bool = True
    """A non-blocking check is reported but does not decide the outcome."""

    @property
    def label(self) -> str:
        return self.name or self._default_name()

    def _default_name(self) -> str:
        return str(getattr(self, "type", "check"))


class MetricCheck(_Check):
    """A metric on the evaluation set: an absolute bound (``min``/``max`` on the point value)
    and/or a gain over the baseline whose paired-bootstrap interval must clear ``min_gain``."""

    type: Literal["metric"]
    metric: str
    params: dict[str, Any] = Field(default_factory=dict)
    min: float | None = None
    max: float | None = None
    min_gain: float | None = None
    """Required improvement over the baseline in the metric's units (``0.02`` = 2 points of F1);
    for lower-is-better metrics a gain is a decrease. Negative allows a bounded loss."""
    greater_is_better: bool | None = None
    response: Response | None = None

    @field_validator("metric")
    @classmethod
    def _exists(cls, name: str) -> str:
        resolve_metric(name, greater_is_better=True)
        return name

    @model_validator(mode="after")
    def _known(self) -> MetricCheck:
        if self.min is None and self.max is None and self.min_gain is None:
            raise ValueError("give at least one of min, max or min_gain")
        resolve_metric(
            self.metric, self.params, greater_is_better=self.greater_is_better,
            response=self.response,
        )  # fmt: skip
        return self

    def _default_name(self) -> str:
        return f"metric:{self.metric}" + (":vs-baseline" if self.min_gain is not None else "")


class FairnessCheck(_Check):
    """The gap (largest minus smallest) of a metric between the groups of a column."""

    type: Literal["fairness"]
    metric: str = "accuracy"
    params: dict[str, Any] = Field(default_factory=dict)
    group_column: str
    max_gap: float = Field(ge=0)
    min_group_rows: int = Field(default=30, ge=1)

    @field_validator("metric")
    @classmethod
    def _exists(cls, name: str) -> str:
        resolve_metric(name, greater_is_better=True)
        return name

    def _default_name(self) -> str:
        return f"fairness:{self.metric}:{self.group_column}"


class CalibrationCheck(_Check):
    """Expected calibration error and Brier score of a classifier's probabilities."""

    type: Literal["calibration"]
    max_ece: float | None = Field(default=None, ge=0)
    max_brier: float | None = Field(default=None, ge=0)
    bins: int = Field(default=10, ge=2, le=100)

    @model_validator(mode="after")
    def _bounded(self) -> CalibrationCheck:
        if self.max_ece is None and self.max_brier is None:
            raise ValueError("give max_ece, max_brier or both")
        return self


class StabilityCheck(_Check):
    """Predictions under small Gaussian noise on the numeric inputs (``noise`` times each
    column's standard deviation): the share of rows whose prediction changes stays under
    ``max_changed``. A regression prediction counts as changed when it moves by more than
    ``tolerance`` times the predictions' standard deviation."""

    type: Literal["stability"]
    noise: float = Field(default=0.01, gt=0)
    max_changed: float = Field(ge=0, le=1)
    tolerance: float = Field(default=0.01, ge=0)
    rows: int = Field(default=10_000, ge=10)
    seed: int = 0


class SchemaCheck(_Check):
    """The evaluation data fits the signature, and the signature does not break the
    baseline's (removed, retyped or newly required input columns)."""

    type: Literal["schema"]
    against_baseline: bool = True


class RobustnessCheck(_Check):
    """Perturbed rows (missing values, outliers, empty strings, unseen categories) and the
    policy's own edge cases: the model must answer, with finite values within bounds."""

    type: Literal["robustness"]
    cases: list[RobustnessCase] = Field(default_factory=lambda: list(_ALL_CASES))
    edge_cases: list[dict[str, Any]] = Field(default_factory=list)
    columns: list[str] | None = None
    rows_per_case: int = Field(default=10, ge=1, le=1000)
    output_min: float | None = None
    output_max: float | None = None
    seed: int = 0


class LatencyCheck(_Check):
    """p50 and p99 of ``predict()`` on one row and on a batch, in milliseconds."""

    type: Literal["latency"]
    single_p50_ms: float | None = Field(default=None, gt=0)
    single_p99_ms: float | None = Field(default=None, gt=0)
    batch_rows: int = Field(default=1000, ge=1)
    batch_p50_ms: float | None = Field(default=None, gt=0)
    batch_p99_ms: float | None = Field(default=None, gt=0)
    repeats: int = Field(default=200, ge=5)
    batch_repeats: int = Field(default=20, ge=3)
    warmup: int = Field(default=5, ge=0)
    max_seconds: float = Field(default=10.0, gt=0)
    """Time budget: timing stops early (after at least 20 single-row and 3 batch calls) once
    spent, so a slow model fails its bound without holding the gate for minutes."""

    @model_validator(mode="after")
    def _bounded(self) -> LatencyCheck:
        bounds = (self.single_p50_ms, self.single_p99_ms, self.batch_p50_ms, self.batch_p99_ms)
        if all(b is None for b in bounds):
            raise ValueError(
                "give at least one of single_p50_ms, single_p99_ms, batch_p50_ms, batch_p99_ms"
            )
        return self


class SizeCheck(_Check):
    """The package's bytes on disk (``max_bytes: 50MB`` or a number)."""

    type: Literal["size"]
    max_bytes: ByteSize


class VulnerabilityCheck(_Check):
    """The package's pinned requirements against an OSV database (a ``.json`` file, a folder of
    them, or OSV's ``all.zip``), failing on advisories at or above ``fail_at``."""

    type: Literal["vulnerabilities"]
    database: Path
    fail_at: Severity = "high"
    unknown_severity: Severity = "high"
    """How to rank an advisory that gives no severity this reader understands."""
    fail_on_unpinned: bool = False
    ignore: list[str] = Field(default_factory=list)
    """Advisory ids (or aliases such as CVE ids) accepted by a person, with a reason elsewhere."""


Check = Annotated[
    MetricCheck | FairnessCheck | CalibrationCheck | StabilityCheck | SchemaCheck
    | RobustnessCheck | LatencyCheck | SizeCheck | VulnerabilityCheck,
    Field(discriminator="type"),
]  # fmt: skip
CHECK_TYPES = (
    "metric", "fairness", "calibration", "stability", "schema", "robustness", "latency", "size",
    "vulnerabilities",
)  # fmt: skip


class Bootstrap(_Strict):
    resamples: int = Field(default=1000, ge=100, le=100_000)
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    seed: int = 0


class Policy(_Strict):
    """A gate: checks, and the alias a passing version moves to."""

    version: Literal[1] = 1
    promote_to: str = Field(min_length=1)
    baseline: str | None = None
    """The alias whose version is the baseline (default: ``promote_to``)."""
    label: str | None = None
    """The evaluation data's target column (needed by metric, fairness and calibration)."""
    task: Literal["classification", "regression"] | None = None
    positive_label: Any = None
    data: Path | None = None
    """Default evaluation data (Parquet or CSV), relative to the policy file."""
    bootstrap: Bootstrap = Field(default_factory=Bootstrap)
    checks: list[Check] = Field(min_length=1)

    @property
    def baseline_alias(self) -> str:
        return self.baseline or self.promote_to

    @model_validator(mode="after")
    def _unique_names(self) -> Policy:
        seen: set[str] = set()
        for check in self.checks:
            if check.label in seen:
                raise ValueError(f"two checks are named {check.label!r}: give each a unique name")
            seen.add(check.label)
        needs_label = any(c.type in ("metric", "fairness", "calibration") for c in self.checks)
        if needs_label and not self.label:
            raise ValueError(
                "metric, fairness and calibration checks need `label`: the target column"
            )
        return self


def load_policy(path: str | Path) -> Policy:
    """Read and validate a policy file; paths inside it are resolved against its folder."""
    file = Path(path)
    try:
        text = file.read_text()
    except OSError as exc:
        raise InvalidPolicy(f"Cannot read the gate policy {str(file)!r}: {exc.strerror}") from None
    return parse_policy(text, source=file)


def parse_policy(text: str, source: Path | None = None) -> Policy:
    where = str(source) if source is not None else "policy"
    try:
        document = parse_yaml(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise InvalidPolicy(f"{where} line {line}: not valid YAML: {exc.problem}", line) from None
    except yaml.YAMLError as exc:
        raise InvalidPolicy(f"{where}: not valid YAML: {exc}") from None
    if not isinstance(document.value, dict):
        raise InvalidPolicy(
            f"{where}: a gate policy is a YAML mapping (promote_to:, checks: ...)", 1
        )
    try:
        policy = Policy.model_validate(document.value)
    except ValidationError as exc:
        raise _first_error(exc, document, where) from None
    return _resolved(policy, source.parent if source is not None else None)


def _first_error(exc: ValidationError, document: YamlDocument, where: str) -> InvalidPolicy:
    error = exc.errors(include_url=False)[0]
    loc = _without_tags(tuple(error["loc"]), document.value)
    line = document.line_of(loc)
    field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    message = str(error["msg"]).removeprefix("Value error, ")
    at = f"{where} line {line}" if line is not None else where
    return InvalidPolicy(f"{at}: {field or 'policy'}: {message}", line)


def _without_tags(loc: tuple[Any, ...], value: Any) -> tuple[Any, ...]:
    """Pydantic's loc without the discriminator tag it inserts after a union's position."""
    kept: list[Any] = []
    tag_next = False
    for part in loc:
        if tag_next and isinstance(value, dict) and value.get("type") == part:
            tag_next = False
            continue
        kept.append(part)
        tag_next = isinstance(value, list)
        found = isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value)
        value = value[part] if found or (isinstance(value, dict) and part in value) else None
    return tuple(kept)


def _resolved(policy: Policy, folder: Path | None) -> Policy:
    if folder is None:
        return policy
    checks = [
        c.model_copy(update={"database": folder / c.database})
        if isinstance(c, VulnerabilityCheck) and not c.database.is_absolute()
        else c
        for c in policy.checks
    ]
    data = folder / policy.data if policy.data and not policy.data.is_absolute() else policy.data
    return policy.model_copy(update={"checks": checks, "data": data})
