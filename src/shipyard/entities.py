"""Plain records shared by every layer. Times are integer milliseconds since the epoch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import overload

__all__ = [
    "RUN_NAME_TAG",
    "ApprovalRequest",
    "ApprovalStatus",
    "AuditEvent",
    "Dataset",
    "DatasetInput",
    "DatasetRef",
    "Experiment",
    "LifecycleStage",
    "LoggedModel",
    "LoggedModelOrderBy",
    "LoggedModelStatus",
    "Metric",
    "MetricColumns",
    "ModelVersion",
    "ModelVersionStage",
    "ModelVersionStatus",
    "Param",
    "RegisteredModel",
    "Run",
    "RunData",
    "RunInfo",
    "RunStatus",
    "Tag",
    "ViewType",
    "Webhook",
    "WebhookDelivery",
    "links_models",
]

# A run's name as MLflow also keeps it, as a tag; the store keeps the two in step.
RUN_NAME_TAG = "mlflow.runName"


class LifecycleStage(StrEnum):
    ACTIVE = "active"
    DELETED = "deleted"


class RunStatus(StrEnum):
    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"

    @property
    def is_terminal(self) -> bool:
        return self in (RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED)


class ViewType(StrEnum):
    ACTIVE_ONLY = "ACTIVE_ONLY"
    DELETED_ONLY = "DELETED_ONLY"
    ALL = "ALL"

    def stages(self) -> tuple[str, ...]:
        if self is ViewType.ACTIVE_ONLY:
            return (LifecycleStage.ACTIVE.value,)
        if self is ViewType.DELETED_ONLY:
            return (LifecycleStage.DELETED.value,)
        return (LifecycleStage.ACTIVE.value, LifecycleStage.DELETED.value)


@dataclass(frozen=True, slots=True)
class Tag:
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class Param:
    key: str
    value: str


@dataclass(slots=True)
class Metric:
    """One point; ``model_id`` (and the dataset it was computed on) links it to a logged model.

    Not frozen, unlike the other records: reads build 100,000s of points, and a frozen
    dataclass's ``__init__`` costs about six times as much. Treat it as immutable all the same.
    """

    key: str
    value: float
    timestamp: int
    step: int = 0
    model_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None
    run_id: str | None = None


class MetricColumns(Sequence[Metric]):
    """Points as four columns, without model links: what a REST log-batch of plain points
    becomes (``server._models``). Read as a sequence it gives ``Metric`` records; validation
    and the store take the columns as they are, so a batch of 1,000 builds no record at all.

    Whoever builds one guarantees the types: keys ``str``, values ``float``, timestamps and
    steps ``int`` (range checks are validation's).
    """

    __slots__ = ("keys", "stamps", "steps", "values")

    def __init__(
        self, keys: list[str], values: list[float], stamps: list[int], steps: list[int]
    ) -> None:
        self.keys = keys
        self.values = values
        self.stamps = stamps
        self.steps = steps

    def __len__(self) -> int:
        return len(self.keys)

    @overload
    def __getitem__(self, i: int) -> Metric: ...

    @overload
    def __getitem__(self, i: slice) -> list[Metric]: ...

    def __getitem__(self, i: int | slice) -> Metric | list[Metric]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return Metric(self.keys[i], self.values[i], self.stamps[i], self.steps[i])

    def __repr__(self) -> str:
        return f"MetricColumns({len(self)} points)"


def links_models(metrics: Sequence[Metric]) -> bool:
    """Whether any point names a logged model (never so for ``MetricColumns``)."""
    return not isinstance(metrics, MetricColumns) and any(m.model_id for m in metrics)


@dataclass(slots=True)
class Experiment:
    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str = LifecycleStage.ACTIVE.value
    creation_time: int | None = None
    last_update_time: int | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class RunInfo:
    run_id: str
    experiment_id: str
    run_name: str
    user_id: str
    status: str
    start_time: int | None
    end_time: int | None
    artifact_uri: str
    lifecycle_stage: str = LifecycleStage.ACTIVE.value


@dataclass(slots=True)
class RunData:
    metrics: list[Metric] = field(default_factory=list)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Dataset:
    name: str
    digest: str
    source_type: str
    source: str
    schema: str | None = None
    profile: str | None = None


@dataclass(frozen=True, slots=True)
class DatasetInput:
    dataset: Dataset
    tags: tuple[Tag, ...] = ()


@dataclass(slots=True)
class Run:
    info: RunInfo
    data: RunData = field(default_factory=RunData)
    inputs: list[DatasetInput] = field(default_factory=list)
    model_inputs: list[str] = field(default_factory=list)
    model_outputs: list[tuple[str, int]] = field(default_factory=list)


class LoggedModelStatus(StrEnum):
    """Where a logged model's upload stands; PENDING until the client finalizes it."""

    PENDING = "PENDING"
    READY = "READY"
    FAILED = "FAILED"


@dataclass(slots=True)
class LoggedModel:
    """A model logged to an experiment (MLflow 3), with its artifacts under ``artifact_uri``."""

    model_id: str
    experiment_id: str
    name: str
    artifact_uri: str
    creation_time: int
    last_updated_time: int
    status: str = LoggedModelStatus.PENDING.value
    model_type: str | None = None
    source_run_id: str | None = None
    status_message: str | None = None
    lifecycle_stage: str = LifecycleStage.ACTIVE.value
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: list[Metric] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class DatasetRef:
    """A dataset named in a logged-model search; no digest means any version of it."""

    name: str
    digest: str | None = None


@dataclass(frozen=True, slots=True)
class LoggedModelOrderBy:
    """One ordering of a logged-model search: an attribute or ``metrics.<key>``.

    For a metric, ``dataset_name`` (and ``dataset_digest``) pick the points computed on that
    dataset.
    """

    field: str
    ascending: bool = True
    dataset_name: str | None = None
    dataset_digest: str | None = None


# -- model registry ------------------------------------------------------------------------------
class ModelVersionStage(StrEnum):
    """MLflow's legacy stages, kept for compatibility; aliases are the primary way to say what is
    live."""

    NONE = "None"
    STAGING = "Staging"
    PRODUCTION = "Production"
    ARCHIVED = "Archived"


class ModelVersionStatus(StrEnum):
    PENDING_REGISTRATION = "PENDING_REGISTRATION"
    FAILED_REGISTRATION = "FAILED_REGISTRATION"
    READY = "READY"


@dataclass(slots=True)
class ModelVersion:
    """One numbered version of a registered model: where its files are and where it came from."""

    name: str
    version: str
    creation_time: int
    last_updated_time: int
    source: str
    current_stage: str = ModelVersionStage.NONE.value
    description: str | None = None
    user_id: str | None = None
    run_id: str | None = None
    run_link: str | None = None
    model_id: str | None = None
    status: str = ModelVersionStatus.READY.value
    status_message: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)


@dataclass(slots=True)
class RegisteredModel:
    """A named model; ``latest_versions`` holds the newest version in each stage."""

    name: str
    creation_time: int
    last_updated_time: int
    description: str | None = None
    user_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    latest_versions: list[ModelVersion] = field(default_factory=list)
    protected_aliases: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One entry of the registry's append-only audit trail.

    ``hash`` is SHA-256 over the event's content and ``prev_hash``; see ``shipyard.registry``.
    """

    seq: int
    time_ms: int
    actor: str
    action: str
    model_name: str | None
    version: str | None
    alias: str | None
    before: object
    after: object
    reason: str | None
    details: dict[str, object]
    prev_hash: str
    hash: str


class ApprovalStatus(StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


@dataclass(slots=True)
class ApprovalRequest:
    """A request to move a protected alias, and its decision by a second actor."""

    id: str
    name: str
    alias: str
    version: str
    requested_by: str
    created_time: int
    status: str = ApprovalStatus.PENDING.value
    reason: str | None = None
    decided_by: str | None = None
    decided_time: int | None = None
    comment: str | None = None


@dataclass(slots=True)
class Webhook:
    """A URL that receives registry events, signed with ``secret`` (HMAC-SHA256)."""

    id: str
    url: str
    events: list[str]
    created_time: int
    model_name: str | None = None
    active: bool = True
    secret: str = field(default="", repr=False)


@dataclass(slots=True)
class WebhookDelivery:
    id: int
    webhook_id: str
    event_seq: int
    status: str
    attempts: int
    last_status_code: int | None = None
    last_error: str | None = None
    delivered_time: int | None = None
