"""Logged-model searches compiled to SQL.

Filters on metrics match a model when any of its linked points satisfies the comparison
(restricted to the requested datasets, if any); an ordering on a metric uses the model's latest
point (by timestamp, then step). Models lacking the sort value sort last in both directions.
Status filters take both spellings: the entity's (``READY``) and the wire's
(``LOGGED_MODEL_READY``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, false, or_, select

from shipyard.entities import DatasetRef, LifecycleStage, LoggedModelOrderBy
from shipyard.store.search import Comparison, parse_logged_model_filter, parse_logged_model_order_by
from shipyard.store.sql._schema import (
    logged_model_metrics,
    logged_model_params,
    logged_model_tags,
    logged_models,
)
from shipyard.store.sql._search import _compare, _keyed_exists, _nulls_last

__all__ = ["logged_model_query", "status_name"]

_ATTRS: dict[str, Any] = {
    "name": logged_models.c.name,
    "model_id": logged_models.c.model_id,
    "model_type": logged_models.c.model_type,
    "status": logged_models.c.status,
    "source_run_id": logged_models.c.source_run_id,
    "creation_timestamp": logged_models.c.creation_timestamp_ms,
    "last_updated_timestamp": logged_models.c.last_updated_timestamp_ms,
}
_WIRE_STATUS = {
    "LOGGED_MODEL_PENDING": "PENDING",
    "LOGGED_MODEL_READY": "READY",
    "LOGGED_MODEL_UPLOAD_FAILED": "FAILED",
    "UPLOAD_FAILED": "FAILED",
}


def status_name(value: str) -> str:
    """The stored status for either spelling; anything else is left as written."""
    return _WIRE_STATUS.get(value.upper(), value.upper())


def _on_datasets(datasets: Sequence[DatasetRef]) -> ColumnElement[bool] | None:
    mm = logged_model_metrics.c
    if not datasets:
        return None
    return or_(
        *(
            and_(mm.dataset_name == d.name, mm.dataset_digest == d.digest)
            if d.digest
            else mm.dataset_name == d.name
            for d in datasets
        )
    )


def _metric_points(key: str | None, datasets: ColumnElement[bool] | None) -> list[Any]:
    mm = logged_model_metrics.c
    conds: list[Any] = [mm.model_id == logged_models.c.model_id, mm.is_nan == false()]
    if key is not None:
        conds.append(mm.key == key)
    if datasets is not None:
        conds.append(datasets)
    return conds


def _condition(
    c: Comparison, datasets: ColumnElement[bool] | None, dialect: str
) -> ColumnElement[bool]:
    if c.kind == "metric":
        value_cond = _compare(logged_model_metrics.c.value, c.op, c.value, dialect)
        return exists().where(*_metric_points(c.key, datasets), value_cond)
    if c.kind == "param":
        return _keyed_exists(logged_model_params, logged_models.c.model_id, c, dialect)
    if c.kind == "tag":
        return _keyed_exists(logged_model_tags, logged_models.c.model_id, c, dialect)
    value = c.value
    if c.key == "status" and c.op in ("=", "!=", "IN", "NOT IN"):
        value = (
            tuple(map(status_name, value)) if isinstance(value, tuple) else status_name(str(value))
        )
    return _compare(_ATTRS[c.key], c.op, value, dialect)


def _latest_value(o: LoggedModelOrderBy, key: str) -> Any:
    mm = logged_model_metrics.c
    refs = [DatasetRef(o.dataset_name, o.dataset_digest)] if o.dataset_name else []
    return (
        select(mm.value)
        .where(*_metric_points(key, _on_datasets(refs)))
        .order_by(mm.timestamp.desc(), mm.step.desc(), mm.run_uuid.asc())
        .limit(1)
        .scalar_subquery()
    )


def _order_clauses(order_by: Sequence[LoggedModelOrderBy]) -> list[Any]:
    clauses: list[Any] = []
    by_creation = False
    for o in order_by:
        parsed = parse_logged_model_order_by([o.field])[0]
        ascending = o.ascending and parsed.ascending  # "name DESC" in field_name wins too
        if parsed.kind == "metric":
            expr = _latest_value(o, parsed.key)
        else:
            expr = _ATTRS[parsed.key]
            by_creation = by_creation or parsed.key == "creation_timestamp"
        clauses += _nulls_last(expr, expr.is_(None), ascending)
    if not by_creation:
        clauses.append(logged_models.c.creation_timestamp_ms.desc())
    clauses.append(logged_models.c.model_id.asc())
    return clauses


def logged_model_query(
    experiment_ids: Sequence[int],
    filter_string: str | None,
    datasets: Sequence[DatasetRef],
    order_by: Sequence[LoggedModelOrderBy],
    dialect: str = "sqlite",
) -> Select[Any]:
    """Active models of the experiments that pass the filter, in the requested order.

    Datasets without any metric comparison keep the models with a point on one of them.
    """
    q = select(logged_models).where(
        logged_models.c.experiment_id.in_(list(experiment_ids)),
        logged_models.c.lifecycle_stage == LifecycleStage.ACTIVE.value,
    )
    on_datasets = _on_datasets(datasets)
    comparisons = parse_logged_model_filter(filter_string)
    for c in comparisons:
        q = q.where(_condition(c, on_datasets, dialect))
    if on_datasets is not None and not any(c.kind == "metric" for c in comparisons):
        q = q.where(exists().where(*_metric_points(None, on_datasets)))
    return q.order_by(*_order_clauses(order_by))
