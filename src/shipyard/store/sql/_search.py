"""Search filters and orderings compiled to SQL, so a search never loads runs into Python.

Each comparison becomes an ``EXISTS`` over the indexed child table (latest metrics, params, tags,
dataset inputs); each ordering on a metric, param or tag becomes an outer join. Missing values
sort last in both directions, as MLflow does. SQLite's LIKE ignores case, so a case-sensitive
LIKE is compiled to GLOB there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    exists,
    false,
    literal,
    not_,
    select,
    true,
)

from shipyard.entities import ViewType
from shipyard.errors import InvalidFilter
from shipyard.store.search import (
    Comparison,
    OrderBy,
    parse_experiment_filter,
    parse_experiment_order_by,
    parse_run_filter,
    parse_run_order_by,
)
from shipyard.store.sql._rows import RUN_COLUMNS
from shipyard.store.sql._schema import (
    dataset_inputs,
    datasets,
    experiment_tags,
    experiments,
    input_tags,
    latest_metrics,
    params,
    runs,
    tags,
)

__all__ = ["experiment_id_or_none", "experiment_query", "run_query"]

_RUN_ATTRS: dict[str, Any] = {
    "run_id": runs.c.run_uuid,
    "run_name": runs.c.name,
    "user_id": runs.c.user_id,
    "status": runs.c.status,
    "start_time": runs.c.start_time,
    "end_time": runs.c.end_time,
    "artifact_uri": runs.c.artifact_uri,
    "lifecycle_stage": runs.c.lifecycle_stage,
}
_EXP_ATTRS: dict[str, Any] = {
    "name": experiments.c.name,
    "experiment_id": experiments.c.experiment_id,
    "creation_time": experiments.c.creation_time,
    "last_update_time": experiments.c.last_update_time,
}


_MAX_EXPERIMENT_ID = 2**31 - 1  # the column is a 32-bit INTEGER on PostgreSQL


def experiment_id_or_none(experiment_id: str) -> int | None:
    """The integer key for an id string, or None for text that names no experiment.

    ASCII digits only (``int()`` also takes ``"1_0"``, spaces and other scripts' digits), and
    within the column's range, so a huge id is "not found" rather than a driver overflow.
    """
    if isinstance(experiment_id, int) and not isinstance(experiment_id, bool):
        experiment_id = str(experiment_id)
    if not isinstance(experiment_id, str) or not experiment_id.isascii():
        return None
    if not experiment_id.isdigit() or len(experiment_id) > 10:
        return None
    key = int(experiment_id)
    return key if key <= _MAX_EXPERIMENT_ID else None


def _glob(pattern: str) -> str:
    """Translate a LIKE pattern to GLOB, escaping GLOB's own wildcards with brackets."""
    out = []
    for ch in pattern:
        if ch in "*?[":
            out.append(f"[{ch}]")
        elif ch == "%":
            out.append("*")
        elif ch == "_":
            out.append("?")
        else:
            out.append(ch)
    return "".join(out)


def _compare(col: Any, op: str, value: Any, dialect: str) -> ColumnElement[bool]:
    if op == "=":
        return col == value  # type: ignore[no-any-return]
    if op == "!=":
        return col != value  # type: ignore[no-any-return]
    if op == ">":
        return col > value  # type: ignore[no-any-return]
    if op == ">=":
        return col >= value  # type: ignore[no-any-return]
    if op == "<":
        return col < value  # type: ignore[no-any-return]
    if op == "<=":
        return col <= value  # type: ignore[no-any-return]
    if op == "LIKE":
        return col.op("GLOB")(_glob(value)) if dialect == "sqlite" else col.like(value)  # type: ignore[no-any-return]
    if op == "ILIKE":
        return col.ilike(value)  # type: ignore[no-any-return]
    if op == "IN":
        return col.in_(list(value))  # type: ignore[no-any-return]
    if op == "NOT IN":
        return col.not_in(list(value))  # type: ignore[no-any-return]
    raise InvalidFilter(f"Unsupported comparator '{op}'")


def _keyed_exists(table: Any, owner: Any, c: Comparison, dialect: str) -> ColumnElement[bool]:
    base = and_(table.c[owner.key] == owner, table.c.key == c.key)
    if c.op == "IS NULL":
        return not_(exists().where(base))
    if c.op == "IS NOT NULL":
        return exists().where(base)
    return exists().where(base, _compare(table.c.value, c.op, c.value, dialect))


def _metric_cond(c: Comparison, dialect: str) -> ColumnElement[bool]:
    lm = latest_metrics.c
    cond = _compare(lm.value, c.op, c.value, dialect)
    return exists().where(
        lm.run_uuid == runs.c.run_uuid, lm.key == c.key, lm.is_nan == false(), cond
    )


def _dataset_cond(c: Comparison, dialect: str) -> ColumnElement[bool]:
    link = and_(dataset_inputs.c.run_uuid == runs.c.run_uuid)
    if c.key == "context":
        it = input_tags.c
        cond = _compare(it.value, c.op, c.value, dialect)
        return exists().where(it.run_uuid == runs.c.run_uuid, it.key == "mlflow.data.context", cond)
    col = datasets.c[c.key]
    return exists().where(
        link,
        datasets.c.dataset_id == dataset_inputs.c.dataset_id,
        _compare(col, c.op, c.value, dialect),
    )


def _run_cond(c: Comparison, dialect: str) -> ColumnElement[bool]:
    if c.kind == "metric":
        return _metric_cond(c, dialect)
    if c.kind == "param":
        return _keyed_exists(params, runs.c.run_uuid, c, dialect)
    if c.kind == "tag":
        return _keyed_exists(tags, runs.c.run_uuid, c, dialect)
    if c.kind == "dataset":
        return _dataset_cond(c, dialect)
    col = _RUN_ATTRS[c.key]
    if c.op == "IS NULL":
        return col.is_(None)  # type: ignore[no-any-return]
    if c.op == "IS NOT NULL":
        return col.is_not(None)  # type: ignore[no-any-return]
    return _compare(col, c.op, c.value, dialect)


def _nulls_last(expr: Any, missing: Any, ascending: bool) -> list[Any]:
    missing_first = case((missing, 1), else_=0)
    return [missing_first, expr.asc() if ascending else expr.desc()]


def _run_order(q: Select[Any], order: Sequence[OrderBy]) -> Select[Any]:
    clauses: list[Any] = []
    for i, o in enumerate(order):
        if o.kind == "attribute":
            col = _RUN_ATTRS[o.key]
            clauses += _nulls_last(col, col.is_(None), o.ascending)
            continue
        table = {"metric": latest_metrics, "param": params, "tag": tags}[o.kind]
        alias = table.alias(f"order_{i}")
        q = q.outerjoin(alias, and_(alias.c.run_uuid == runs.c.run_uuid, alias.c.key == o.key))
        missing: ColumnElement[bool] = alias.c.run_uuid.is_(None)
        if o.kind == "metric":
            missing = missing | (alias.c.is_nan == true())
        clauses += _nulls_last(alias.c.value, missing, o.ascending)
    if not any(o.kind == "attribute" and o.key == "start_time" for o in order):
        clauses.append(runs.c.start_time.desc())
    clauses.append(runs.c.run_uuid.asc())
    return q.order_by(*clauses)


def run_query(
    experiment_ids: Sequence[int],
    filter_string: str | None,
    view_type: ViewType,
    order_by: Sequence[str],
    dialect: str = "sqlite",
) -> Select[Any]:
    q = select(*RUN_COLUMNS).where(
        runs.c.experiment_id.in_(list(experiment_ids)),
        runs.c.lifecycle_stage.in_(view_type.stages()),
    )
    for c in parse_run_filter(filter_string):
        q = q.where(_run_cond(c, dialect))
    return _run_order(q, parse_run_order_by(order_by))


def _experiment_cond(c: Comparison, dialect: str) -> ColumnElement[bool]:
    if c.kind == "tag":
        return _keyed_exists(experiment_tags, experiments.c.experiment_id, c, dialect)
    col = _EXP_ATTRS[c.key]
    value = c.value
    if c.key == "experiment_id" and isinstance(value, str):
        value = experiment_id_or_none(value)
        if value is None:
            return literal(False)
    return _compare(col, c.op, value, dialect)


def experiment_query(
    view_type: ViewType,
    filter_string: str | None,
    order_by: Sequence[str],
    dialect: str = "sqlite",
) -> Select[Any]:
    q = select(experiments).where(experiments.c.lifecycle_stage.in_(view_type.stages()))
    for c in parse_experiment_filter(filter_string):
        q = q.where(_experiment_cond(c, dialect))
    clauses: list[Any] = []
    for o in parse_experiment_order_by(order_by):
        col = _EXP_ATTRS[o.key]
        clauses += _nulls_last(col, col.is_(None), o.ascending)
    if not clauses:
        clauses.append(experiments.c.creation_time.desc())
    clauses.append(experiments.c.experiment_id.desc())
    return q.order_by(*clauses)
