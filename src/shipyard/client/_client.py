"""``Client``: the explicit, stateless SDK over any tracking backend."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from shipyard.client._backend import open_backend
from shipyard.client._registry_api import RegistryMethods
from shipyard.entities import (
    DatasetInput,
    Experiment,
    Metric,
    Param,
    Run,
    RunInfo,
    RunStatus,
    Tag,
    ViewType,
)
from shipyard.settings import DEFAULT_DATA_DIR, Settings
from shipyard.store._protocol import Page, TrackingStore
from shipyard.tracking._required_tags import REQUIRED_TAGS_KEY, format_policy

__all__ = ["Client", "now_ms"]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def _tags(tags: Mapping[str, Any] | None) -> list[Tag]:
    return [Tag(k, str(v)) for k, v in (tags or {}).items()]


class Client(RegistryMethods):
    """Create, read, search, update and delete experiments and runs; and the model registry
    (``RegistryMethods``).

    ``tracking_uri`` is a server (``http://host:5000``), a database URI or a folder; without one,
    ``SHIPYARD_TRACKING_URI`` (or ``MLFLOW_TRACKING_URI``) and then ``./shipyard-data`` are used.
    """

    def __init__(self, tracking_uri: str | None = None, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self.tracking_uri = tracking_uri or self.settings.tracking_uri or str(DEFAULT_DATA_DIR)
        self.store: TrackingStore = open_backend(self.tracking_uri, self.settings)

    # -- experiments --------------------------------------------------------------------------
    def create_experiment(
        self,
        name: str,
        artifact_location: str | None = None,
        tags: Mapping[str, Any] | None = None,
        required_tags: Sequence[str] = (),
    ) -> str:
        all_tags = _tags(tags)
        if required_tags:
            all_tags.append(Tag(REQUIRED_TAGS_KEY, format_policy(required_tags)))
        return self.store.create_experiment(name, artifact_location, all_tags)

    def get_experiment(self, experiment_id: str) -> Experiment:
        return self.store.get_experiment(str(experiment_id))

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        return self.store.get_experiment_by_name(name)

    def search_experiments(
        self,
        filter_string: str | None = None,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> Page[Experiment]:
        return self.store.search_experiments(
            view_type, max_results, filter_string, order_by, page_token
        )

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        self.store.rename_experiment(str(experiment_id), new_name)

    def delete_experiment(self, experiment_id: str) -> None:
        self.store.delete_experiment(str(experiment_id))

    def restore_experiment(self, experiment_id: str) -> None:
        self.store.restore_experiment(str(experiment_id))

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        self.store.set_experiment_tag(str(experiment_id), Tag(key, str(value)))

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        self.store.delete_experiment_tag(str(experiment_id), key)

    def set_required_tags(self, experiment_id: str, keys: Sequence[str]) -> None:
        """Every run of this experiment must carry these tags to finish (the audit trail)."""
        self.set_experiment_tag(experiment_id, REQUIRED_TAGS_KEY, format_policy(keys))

    # -- runs ---------------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        run_name: str | None = None,
        tags: Mapping[str, Any] | None = None,
        start_time: int | None = None,
    ) -> Run:
        return self.store.create_run(
            str(experiment_id),
            self.settings.user,
            start_time if start_time is not None else now_ms(),
            _tags(tags),
            run_name,
        )

    def get_run(self, run_id: str) -> Run:
        return self.store.get_run(run_id)

    def update_run(
        self, run_id: str, status: str | None = None, name: str | None = None
    ) -> RunInfo:
        end = now_ms() if status and RunStatus(status).is_terminal else None
        return self.store.update_run_info(run_id, status, end, name)

    def set_terminated(
        self, run_id: str, status: str = "FINISHED", end_time: int | None = None
    ) -> RunInfo:
        return self.store.update_run_info(run_id, status, end_time or now_ms(), None)

    def delete_run(self, run_id: str) -> None:
        self.store.delete_run(run_id)

    def restore_run(self, run_id: str) -> None:
        self.store.restore_run(run_id)

    def log_param(self, run_id: str, key: str, value: Any) -> None:
        self.store.log_batch(run_id, params=[Param(key, str(value))])

    def log_metric(
        self,
        run_id: str,
        key: str,
        value: float,
        step: int | None = None,
        timestamp: int | None = None,
    ) -> None:
        metric = Metric(key, float(value), timestamp or now_ms(), step or 0)
        self.store.log_batch(run_id, metrics=[metric])

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[Tag] = (),
    ) -> None:
        self.store.log_batch(run_id, metrics, params, tags)

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        self.store.log_batch(run_id, tags=[Tag(key, str(value))])

    def delete_tag(self, run_id: str, key: str) -> None:
        self.store.delete_tag(run_id, key)

    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput]) -> None:
        self.store.log_inputs(run_id, datasets)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        points: list[Metric] = []
        token: str | None = None
        while True:
            page = self.store.get_metric_history(run_id, key, None, token)
            points.extend(page.items)
            token = page.next_page_token
            if not token:
                return points

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> Page[Run]:
        return self.store.search_runs(
            [str(e) for e in experiment_ids],
            filter_string,
            view_type,
            max_results,
            order_by,
            page_token,
        )

    def iter_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        order_by: Sequence[str] = (),
        page_size: int = 1000,
    ) -> Iterator[Run]:
        """Every matching run, fetching page after page."""
        token: str | None = None
        while True:
            page = self.search_runs(
                experiment_ids, filter_string, view_type, page_size, order_by, token
            )
            yield from page.items
            token = page.next_page_token
            if not token:
                return
