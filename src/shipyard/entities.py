"""Plain records shared by every layer. Times are integer milliseconds since the epoch."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "Dataset",
    "DatasetInput",
    "Experiment",
    "LifecycleStage",
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


@dataclass(frozen=True, slots=True)
class Metric:
    key: str
    value: float
    timestamp: int
    step: int = 0


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
