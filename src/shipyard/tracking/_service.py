"""The tracking service: input rules and policies in front of a store.

The server and the in-process SDK both talk to a ``TrackingService`` (the SDK's remote backend
reaches one through the server), so limits, key syntax and required tags are checked in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shipyard.entities import (
    RUN_NAME_TAG,
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
from shipyard.errors import InvalidParameter
from shipyard.settings import Limits
from shipyard.store._protocol import GuardedRunUpdates, LoopIO, Page, RunQuery, TrackingStore
from shipyard.tracking import _validation as v
from shipyard.tracking._logged_models import LoggedModelRules, check_linked_metrics
from shipyard.tracking._names import random_run_name
from shipyard.tracking._required_tags import REQUIRED_TAGS_KEY, check_required_tags

__all__ = ["TrackingService"]


class TrackingService(LoggedModelRules):
    """Implements ``TrackingStore`` by validating input, then delegating to ``store``.

    The logged-model methods come from ``LoggedModelRules``.
    """

    def __init__(self, store: TrackingStore, limits: Limits | None = None) -> None:
        self.store = store
        self.limits = limits or Limits()
        # Finishing a run goes through it when the store can (checked once: ~3 us a call).
        self._guarded = store if isinstance(store, GuardedRunUpdates) else None
        self._loop_io = isinstance(store, LoopIO) and store.loop_io

    @property
    def loop_io(self) -> bool:
        """The store's ``loop_io``: whether the server may run this service's calls on its
        event loop (``LoopIO``)."""
        return self._loop_io

    # -- experiments --------------------------------------------------------------------------
    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: Sequence[Tag] = ()
    ) -> str:
        v.check_experiment_name(name, self.limits)
        checked = [Tag(v.check_key("tag", t.key, self.limits), t.value) for t in tags]
        return self.store.create_experiment(name, artifact_location or None, checked)

    def get_experiment(self, experiment_id: str) -> Experiment:
        return self.store.get_experiment(experiment_id)

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        return self.store.get_experiment_by_name(name)

    def search_experiments(
        self,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        filter_string: str | None = None,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> Page[Experiment]:
        v.check_max_results(max_results, self.limits.max_search_results)
        return self.store.search_experiments(
            view_type, max_results, filter_string, order_by, page_token
        )

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        v.check_experiment_name(new_name, self.limits)
        self.store.rename_experiment(experiment_id, new_name)

    def delete_experiment(self, experiment_id: str) -> None:
        self.store.delete_experiment(experiment_id)

    def restore_experiment(self, experiment_id: str) -> None:
        self.store.restore_experiment(experiment_id)

    def set_experiment_tag(self, experiment_id: str, tag: Tag) -> None:
        key = v.check_key("tag", tag.key, self.limits)
        if len(tag.value) > self.limits.max_experiment_tag_value_length:
            raise InvalidParameter(
                f"Experiment tag value for '{key}' exceeds "
                f"{self.limits.max_experiment_tag_value_length} characters."
            )
        self.store.set_experiment_tag(experiment_id, Tag(key, tag.value))

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        self.store.delete_experiment_tag(experiment_id, key)

    # -- runs ---------------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        user_id: str,
        start_time: int,
        tags: Sequence[Tag] = (),
        run_name: str | None = None,
    ) -> Run:
        # Keys as everywhere; values as given, as MLflow's server keeps them at creation (a
        # run's Markdown description, ``mlflow.note.content``, may run past 8,000 characters).
        checked = [Tag(v.check_key("tag", t.key, self.limits), str(t.value)) for t in tags]
        tagged = next((t.value for t in checked if t.key == RUN_NAME_TAG), None)
        if run_name and tagged is not None and tagged != run_name:
            raise InvalidParameter(  # as MLflow's server
                "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with "
                f"different values (run_name='{run_name}', mlflow.runName='{tagged}')."
            )
        run_name = run_name or tagged
        return self.store.create_run(
            experiment_id, user_id, start_time, checked, run_name or random_run_name()
        )

    def get_run(self, run_id: str) -> Run:
        return self.store.get_run(v.check_run_id(run_id))

    def get_run_info(self, run_id: str) -> RunInfo:
        return self.store.get_run_info(v.check_run_id(run_id))

    def get_run_tags(self, run_id: str) -> dict[str, str]:
        return self.store.get_run_tags(v.check_run_id(run_id))

    def get_run_experiment_tags(self, run_id: str) -> dict[str, str]:
        return self.store.get_run_experiment_tags(v.check_run_id(run_id))

    def update_run_info(
        self,
        run_id: str,
        status: str | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo:
        v.check_run_id(run_id)
        if status is not None:
            status = v.check_status(status)
        if status == RunStatus.FINISHED.value:
            # Most experiments have no required-tags policy: the update itself checks that
            # there is none (no read before it), and only a policy sends it the slow way.
            if self._guarded is not None:
                args = (run_id, status, end_time, run_name)
                info = self._guarded.update_run_info_unless(REQUIRED_TAGS_KEY, *args)
                if info is not None:
                    return info
            self._check_required_tags(run_id)
        return self.store.update_run_info(run_id, status, end_time, run_name)

    def _check_required_tags(self, run_id: str) -> None:
        exp_tags = self.store.get_run_experiment_tags(run_id)
        if REQUIRED_TAGS_KEY in exp_tags:
            check_required_tags(run_id, exp_tags, self.store.get_run_tags(run_id))

    def delete_run(self, run_id: str) -> None:
        self.store.delete_run(v.check_run_id(run_id))

    def restore_run(self, run_id: str) -> None:
        self.store.restore_run(v.check_run_id(run_id))

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[Tag] = (),
    ) -> None:
        v.check_run_id(run_id)
        checked_params, checked_tags = v.check_batch(metrics, params, tags, self.limits)
        # An empty run name changes nothing, as on MLflow's server: the run keeps its name.
        checked_tags = [t for t in checked_tags if t.value or t.key != RUN_NAME_TAG]
        check_linked_metrics(metrics)
        if metrics or checked_params or checked_tags:
            self.store.log_batch(run_id, metrics, checked_params, checked_tags)
        else:  # nothing to write, but a missing run is still an error (a deleted one is not)
            self.store.get_run_info(run_id)

    def delete_tag(self, run_id: str, key: str) -> None:
        self.store.delete_tag(v.check_run_id(run_id), key)

    def get_metric_history(
        self,
        run_id: str,
        key: str,
        max_results: int | None = None,
        page_token: str | None = None,
    ) -> Page[Metric]:
        if max_results is not None:
            v.check_max_results(max_results)  # no upper bound: MLflow's server has none
        return self.store.get_metric_history(v.check_run_id(run_id), key, max_results, page_token)

    def get_metric_history_json(
        self,
        run_id: str,
        key: str,
        max_results: int | None = None,
        page_token: str | None = None,
    ) -> Page[dict[str, Any]]:
        if max_results is not None:
            v.check_max_results(max_results)  # no upper bound: MLflow's server has none
        return self.store.get_metric_history_json(
            v.check_run_id(run_id), key, max_results, page_token
        )

    def log_inputs(
        self, run_id: str, datasets: Sequence[DatasetInput] = (), model_ids: Sequence[str] = ()
    ) -> None:
        v.check_dataset_inputs(datasets)
        self.store.log_inputs(v.check_run_id(run_id), datasets, model_ids)

    def log_outputs(self, run_id: str, models: Sequence[tuple[str, int]]) -> None:
        self.store.log_outputs(v.check_run_id(run_id), models)

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> Page[Run]:
        v.check_max_results(max_results, self.limits.max_search_results)
        return self.store.search_runs(
            experiment_ids, filter_string, view_type, max_results, order_by, page_token
        )

    def search_runs_json(self, query: RunQuery) -> Page[Any]:
        v.check_max_results(query.max_results, self.limits.max_search_results)
        return self.store.search_runs_json(query)
