"""``monitor.yaml``: what to watch, when to alert, and what to do about it.

```yaml
model: churn
alias: production              # the alias that serves (rollback moves it)
inference_log: ./inference-log
state_dir: ./monitoring        # window profiles, labels, incidents
window: hour
alerts:
  - {name: f1-drop, metric: f1, below: 0.8, min_labels: 50, actions: [notify, rollback]}
  - {name: drift, metric: drift_share, above: 0.5, for_windows: 3, actions: [notify]}
actions:
  notify: {type: webhook, url: "https://hooks.example.com/ml", secret_env: HOOK_SECRET}
  rollback: {type: rollback}
  retrain: {type: command, command: [python, train.py]}
```

Validation errors name the field (``alerts.0.below: ...``) and the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shipyard.errors import InvalidParameter
from shipyard.monitoring._drift import DriftSettings
from shipyard.monitoring._windows import WindowSpec

__all__ = [
    "Alert",
    "CommandAction",
    "MonitorPolicy",
    "PerformanceSettings",
    "RollbackAction",
    "WebhookAction",
    "load_policy",
    "parse_policy",
]

OPERATION_METRICS = (
    "error_rate",
    "latency_p50_ms",
    "latency_p90_ms",
    "latency_p99_ms",
    "throughput_rps",
    "requests",
)
DRIFT_METRICS = ("drift_share", "drifted_columns", "prediction_drift")
PERFORMANCE_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "rmse", "mae", "r2")
METRICS = OPERATION_METRICS + DRIFT_METRICS + PERFORMANCE_METRICS

Metric = Literal[
    "error_rate",
    "latency_p50_ms",
    "latency_p90_ms",
    "latency_p99_ms",
    "throughput_rps",
    "requests",
    "drift_share",
    "drifted_columns",
    "prediction_drift",
    "accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "rmse",
    "mae",
    "r2",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Alert(_Strict):
    """A condition on one metric of the latest windows: ``above`` or ``below`` a value for
    ``for_windows`` windows in a row (windows without enough rows or labels are skipped)."""

    name: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")]
    metric: Metric
    above: float | None = None
    below: float | None = None
    for_windows: Annotated[int, Field(ge=1)] = 1
    min_rows: Annotated[int, Field(ge=1)] = 1
    min_labels: Annotated[int, Field(ge=1)] = 30
    actions: list[str] = []

    @model_validator(mode="after")
    def _one_bound(self) -> Alert:
        if (self.above is None) == (self.below is None):
            raise ValueError("give exactly one of 'above' or 'below'")
        return self

    def breached(self, value: float) -> bool:
        if self.above is not None:
            return value > self.above
        assert self.below is not None
        return value < self.below

    def describe(self) -> str:
        bound = f"> {self.above:g}" if self.above is not None else f"< {self.below:g}"
        windows = f" for {self.for_windows} windows" if self.for_windows > 1 else ""
        return f"{self.metric} {bound}{windows}"


class WebhookAction(_Strict):
    type: Literal["webhook"]
    url: Annotated[str, Field(pattern=r"^https?://")]
    secret_env: str | None = None  # HMAC-SHA256 key, read from this environment variable
    timeout: Annotated[float, Field(gt=0)] = 10.0


class RollbackAction(_Strict):
    type: Literal["rollback"]
    alias: str | None = None  # default: the policy's alias


class CommandAction(_Strict):
    type: Literal["command"]
    command: Annotated[list[str], Field(min_length=1)]
    cwd: str | None = None
    timeout: Annotated[float, Field(gt=0)] = 3600.0


Action = Annotated[WebhookAction | RollbackAction | CommandAction, Field(discriminator="type")]


class PerformanceSettings(_Strict):
    task: Literal["auto", "classification", "regression"] = "auto"
    positive_label: str | int | float | bool | None = None
    baseline: dict[str, float] = {}


class MonitorPolicy(_Strict):
    model: Annotated[str, Field(min_length=1)]
    alias: str | None = None
    tracking_uri: str | None = None
    inference_log: str = "inference-log"
    state_dir: str = "monitoring"
    reference: str | None = None  # a profile file, model folder or URI; default: the registry
    window: str = "hour"
    lookback_windows: Annotated[int, Field(ge=1, le=24 * 90)] = 24
    drift: DriftSettings = DriftSettings()
    performance: PerformanceSettings = PerformanceSettings()
    alerts: list[Alert] = []
    actions: dict[str, Action] = {}

    @model_validator(mode="after")
    def _consistent(self) -> MonitorPolicy:
        try:
            spec = WindowSpec.parse(self.window)
        except InvalidParameter as exc:
            raise ValueError(f"window: {exc.message}") from None
        if spec.unit == "rows":
            raise ValueError("window: policies run on 'hour' or 'day' windows")
        names = [a.name for a in self.alerts]
        if len(set(names)) != len(names):
            raise ValueError("alerts: names must be unique")
        for i, alert in enumerate(self.alerts):
            for action in alert.actions:
                if action not in self.actions:
                    raise ValueError(
                        f"alerts.{i}.actions: {action!r} is not defined under 'actions'"
                    )
        for key, configured in self.actions.items():
            if isinstance(configured, RollbackAction) and not (configured.alias or self.alias):
                raise ValueError(f"actions.{key}.alias: a rollback needs an alias")
        return self

    @property
    def window_spec(self) -> WindowSpec:
        return WindowSpec.parse(self.window)


def parse_policy(data: Any, source: str = "monitor.yaml") -> MonitorPolicy:
    if not isinstance(data, dict):
        raise InvalidParameter(f"{source}: the policy must be a mapping of settings")
    try:
        return MonitorPolicy.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(_problem(e) for e in exc.errors())
        raise InvalidParameter(f"{source}: {problems}") from None


def load_policy(path: str | Path) -> MonitorPolicy:
    """Read and validate a policy file; relative paths in it are taken from the file's folder."""
    file = Path(path)
    try:
        data = yaml.safe_load(file.read_text())
    except FileNotFoundError:
        raise InvalidParameter(f"policy file {str(file)!r} does not exist") from None
    except yaml.YAMLError as exc:
        raise InvalidParameter(f"{file}: not valid YAML: {exc}") from None
    policy = parse_policy(data, str(file))
    base = file.resolve().parent
    updates: dict[str, Any] = {
        "inference_log": _relative(policy.inference_log, base),
        "state_dir": _relative(policy.state_dir, base),
    }
    if policy.reference is not None and ":/" not in policy.reference:
        updates["reference"] = _relative(policy.reference, base)
    return policy.model_copy(update=updates)


def _relative(value: str, base: Path) -> str:
    if "://" in value or Path(value).is_absolute():
        return value
    return str(base / value)


def _problem(error: Any) -> str:
    location = ".".join(str(p) for p in error["loc"] if not str(p).endswith("Action"))
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{location}: {message}" if location else message
