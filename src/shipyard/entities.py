"""Plain records shared by every layer. Times are integer milliseconds since the epoch."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "Dataset",
    "DatasetInput",
    "DatasetRef",
    "Experiment",
    "LifecycleStage",
    "LoggedModel",
    "LoggedModelOrderBy",
    "LoggedModelStatus",
    "Metric",
    "Param",
    "Run",
    "RunData",
    "RunInfo",
    "RunStatus",
    "Tag",
    "ViewType",
]


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
