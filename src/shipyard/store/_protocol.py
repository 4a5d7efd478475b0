"""The one protocol every tracking backend speaks.

``SqlStore`` (in-process, wrapped by the tracking service that applies the rules) and
``RestStore`` (HTTP to a Shipyard or MLflow server) both implement it, so the SDK and the server
run the same code whichever backend is behind them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from shipyard.entities import (
    DatasetInput,
    DatasetRef,
    Experiment,
    LoggedModel,
    LoggedModelOrderBy,
    Metric,
    Param,
    Run,
    RunInfo,
    Tag,
    ViewType,
)

__all__ = ["GuardedRunUpdates", "LoopIO", "Page", "RunQuery", "TrackingStore"]

T = TypeVar("T")


@dataclass(slots=True)
class Page(Generic[T]):
    items: list[T] = field(default_factory=list)
    next_page_token: str | None = None


@dataclass(frozen=True, slots=True)
class RunQuery:
    """A ``search_runs`` request, for the methods that take one whole."""

    experiment_ids: Sequence[str]
    filter_string: str | None = None
    view_type: ViewType = ViewType.ACTIVE_ONLY
    max_results: int = 1000
    order_by: Sequence[str] = ()
    page_token: str | None = None


class TrackingStore(Protocol):
    # experiments
    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: Sequence[Tag] = ()
    ) -> str: ...
    def get_experiment(self, experiment_id: str) -> Experiment: ...
    def get_experiment_by_name(self, name: str) -> Experiment | None: ...
    def search_experiments(
        self,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        filter_string: str | None = None,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> Page[Experiment]: ...
    def rename_experiment(self, experiment_id: str, new_name: str) -> None: ...
    def delete_experiment(self, experiment_id: str) -> None: ...
    def restore_experiment(self, experiment_id: str) -> None: ...
    def set_experiment_tag(self, experiment_id: str, tag: Tag) -> None: ...
    def delete_experiment_tag(self, experiment_id: str, key: str) -> None: ...

    # runs
    def create_run(
        self,
        experiment_id: str,
        user_id: str,
        start_time: int,
        tags: Sequence[Tag] = (),
        run_name: str | None = None,
    ) -> Run: ...
    def get_run(self, run_id: str) -> Run: ...
    def get_run_info(self, run_id: str) -> RunInfo: ...
    def get_run_tags(self, run_id: str) -> dict[str, str]: ...
    def get_run_experiment_tags(self, run_id: str) -> dict[str, str]: ...
    def update_run_info(
        self,
        run_id: str,
        status: str | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo: ...
    def delete_run(self, run_id: str) -> None: ...
    def restore_run(self, run_id: str) -> None: ...
    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[Tag] = (),
    ) -> None: ...
    def delete_tag(self, run_id: str, key: str) -> None: ...
    def get_metric_history(
        self,
        run_id: str,
        key: str,
        max_results: int | None = None,
        page_token: str | None = None,
    ) -> Page[Metric]: ...
    def get_metric_history_json(
        self,
        run_id: str,
        key: str,
        max_results: int | None = None,
        page_token: str | None = None,
    ) -> Page[dict[str, Any]]: ...
    def log_inputs(
        self, run_id: str, datasets: Sequence[DatasetInput] = (), model_ids: Sequence[str] = ()
    ) -> None: ...
    def log_outputs(self, run_id: str, models: Sequence[tuple[str, int]]) -> None: ...
    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> Page[Run]: ...
    # Each item is a run's wire form: a dict, or JSON text that orjson embeds (a Fragment).
    def search_runs_json(self, query: RunQuery) -> Page[Any]: ...

    # logged models (MLflow 3); ``status`` is a ``LoggedModelStatus`` value
    def create_logged_model(
        self,
        experiment_id: str,
        name: str | None = None,
        source_run_id: str | None = None,
        tags: Sequence[Tag] = (),
        params: Sequence[Param] = (),
        model_type: str | None = None,
    ) -> LoggedModel: ...
    def get_logged_model(self, model_id: str, allow_deleted: bool = False) -> LoggedModel: ...
    def finalize_logged_model(self, model_id: str, status: str) -> LoggedModel: ...
    def delete_logged_model(self, model_id: str) -> None: ...
    def set_logged_model_tags(self, model_id: str, tags: Sequence[Tag]) -> None: ...
    def delete_logged_model_tag(self, model_id: str, key: str) -> None: ...
    def log_logged_model_params(self, model_id: str, params: Sequence[Param]) -> None: ...
    def search_logged_models(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        datasets: Sequence[DatasetRef] = (),
        max_results: int = 100,
        order_by: Sequence[LoggedModelOrderBy] = (),
        page_token: str | None = None,
    ) -> Page[LoggedModel]: ...


@runtime_checkable
class LoopIO(Protocol):
    """A store (or a service over one) that says whether its calls may run on the server's
    event loop: true when their database waits are awaited there (``SqlStore`` on PostgreSQL,
    called through ``run_on_loop``), so a request spends no hop to a worker thread."""

    @property
    def loop_io(self) -> bool: ...


@runtime_checkable
class GuardedRunUpdates(Protocol):
    """A store that can check an experiment tag in the same step as a run's update (the
    tracking service finishes runs through it: no read of the experiment's tags first)."""

    def update_run_info_unless(
        self,
        experiment_tag: str,
        run_id: str,
        status: str | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo | None:
        """``update_run_info``, unless the run's experiment has the tag ``experiment_tag``:
        then nothing changes and the answer is None."""
        ...
