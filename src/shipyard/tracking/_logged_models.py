"""Rules for logged models (MLflow 3), mixed into the tracking service.

Names follow MLflow's server rule: they end up in ``runs:/<run>/<name>`` URIs and in filter
strings, so path, scheme and quote characters are refused. An id that could never have been
issued is "not found" (404) rather than a 400, so probing with odd ids learns nothing new.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from shipyard.entities import (
    DatasetRef,
    LoggedModel,
    LoggedModelOrderBy,
    LoggedModelStatus,
    Metric,
    Param,
    Tag,
    links_models,
)
from shipyard.errors import InvalidParameter, LoggedModelNotFound
from shipyard.settings import Limits
from shipyard.store._protocol import Page, TrackingStore
from shipyard.tracking import _validation as v
from shipyard.tracking._names import random_run_name

__all__ = [
    "LoggedModelRules",
    "check_linked_metrics",
    "check_model_id",
    "check_model_name",
    "check_model_status",
]

_MODEL_ID = re.compile(r"^[A-Za-z0-9][\w\-]{0,63}$")
_NAME_FORBIDDEN = ("/", ":", ".", "%", '"', "'")
_MAX_NAME = 500
_MAX_MODEL_TYPE = 500
_MAX_DATASET_NAME = 500
_MAX_DATASET_DIGEST = 36


def check_model_id(model_id: object) -> str:
    if not isinstance(model_id, str) or not _MODEL_ID.match(model_id):
        raise LoggedModelNotFound(f"Logged model with ID {model_id!r} not found.")
    return model_id


def check_model_name(name: str | None) -> str:
    """The name to store: a random one when none is given."""
    if name is None or name == "":
        return random_run_name()
    if len(name) > _MAX_NAME or any(c in name for c in _NAME_FORBIDDEN):
        raise InvalidParameter(
            f"Invalid model name {name[:100]!r}: a model name is at most {_MAX_NAME} characters "
            f"and cannot contain any of {' '.join(_NAME_FORBIDDEN)}"
        )
    return name


def check_model_status(status: str) -> str:
    try:
        return LoggedModelStatus(status).value
    except ValueError:
        allowed = ", ".join(s.value for s in LoggedModelStatus)
        raise InvalidParameter(
            f"Invalid logged model status {status!r}; expected one of {allowed}."
        ) from None


def _check_dataset(name: str | None, digest: str | None) -> None:
    if name is not None and len(name) > _MAX_DATASET_NAME:
        raise InvalidParameter(f"Dataset name exceeds {_MAX_DATASET_NAME} characters.")
    if digest is not None and len(digest) > _MAX_DATASET_DIGEST:
        raise InvalidParameter(f"Dataset digest exceeds {_MAX_DATASET_DIGEST} characters.")


def check_linked_metrics(metrics: Sequence[Metric]) -> None:
    """Points that name a model must name one that could exist, and a sane dataset."""
    if not links_models(metrics):
        return
    for m in metrics:
        if m.model_id is None:
            continue
        check_model_id(m.model_id)
        _check_dataset(m.dataset_name, m.dataset_digest)


def _check_search(
    datasets: Sequence[DatasetRef], order_by: Sequence[LoggedModelOrderBy], max_results: int
) -> None:
    if isinstance(max_results, bool) or not isinstance(max_results, int) or max_results < 1:
        raise InvalidParameter(f"max_results must be a positive integer, got {max_results!r}.")
    for d in datasets:
        if not d.name:
            raise InvalidParameter("`dataset_name` in the `datasets` clause must be specified.")
        _check_dataset(d.name, d.digest)
    for o in order_by:
        if not o.field:
            raise InvalidParameter("`field_name` in an `order_by` clause must be specified.")
        if o.dataset_digest and not o.dataset_name:
            raise InvalidParameter("`dataset_digest` in `order_by` needs `dataset_name` too.")


class LoggedModelRules:
    """The logged-model half of ``TrackingService``: validate, then delegate to ``store``."""

    store: TrackingStore
    limits: Limits

    def _checked(
        self, tags: Sequence[Tag] = (), params: Sequence[Param] = ()
    ) -> tuple[list[Param], list[Tag]]:
        return v.check_batch((), params, tags, self.limits)

    def create_logged_model(
        self,
        experiment_id: str,
        name: str | None = None,
        source_run_id: str | None = None,
        tags: Sequence[Tag] = (),
        params: Sequence[Param] = (),
        model_type: str | None = None,
    ) -> LoggedModel:
        if source_run_id:
            v.check_run_id(source_run_id)
        if model_type is not None and len(model_type) > _MAX_MODEL_TYPE:
            raise InvalidParameter(f"model_type exceeds {_MAX_MODEL_TYPE} characters.")
        checked_params, checked_tags = self._checked(tags, params)
        return self.store.create_logged_model(
            experiment_id,
            check_model_name(name),
            source_run_id or None,
            checked_tags,
            checked_params,
            model_type or None,
        )

    def get_logged_model(self, model_id: str, allow_deleted: bool = False) -> LoggedModel:
        return self.store.get_logged_model(check_model_id(model_id), allow_deleted)

    def finalize_logged_model(self, model_id: str, status: str) -> LoggedModel:
        checked = check_model_status(status)
        return self.store.finalize_logged_model(check_model_id(model_id), checked)

    def delete_logged_model(self, model_id: str) -> None:
        self.store.delete_logged_model(check_model_id(model_id))

    def set_logged_model_tags(self, model_id: str, tags: Sequence[Tag]) -> None:
        _, checked = self._checked(tags=tags)
        self.store.set_logged_model_tags(check_model_id(model_id), checked)

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        self.store.delete_logged_model_tag(check_model_id(model_id), key)

    def log_logged_model_params(self, model_id: str, params: Sequence[Param]) -> None:
        checked, _ = self._checked(params=params)
        self.store.log_logged_model_params(check_model_id(model_id), checked)

    def search_logged_models(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        datasets: Sequence[DatasetRef] = (),
        max_results: int = 100,
        order_by: Sequence[LoggedModelOrderBy] = (),
        page_token: str | None = None,
    ) -> Page[LoggedModel]:
        _check_search(datasets, order_by, max_results)
        if max_results > self.limits.max_search_results:
            raise InvalidParameter(
                f"Invalid value {max_results} for parameter 'max_results' supplied. "
                f"It must be at most {self.limits.max_search_results}."
            )
        return self.store.search_logged_models(
            experiment_ids, filter_string, datasets, max_results, order_by, page_token
        )
