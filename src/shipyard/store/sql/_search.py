"""Search filters and orderings compiled to SQL, so a search never loads runs into Python.

Each comparison becomes an ``EXISTS`` over the indexed child table (latest metrics, params, tags,
dataset inputs); each ordering on a metric, param or tag becomes an outer join. Missing values
sort last in both directions, as MLflow does. SQLite's LIKE ignores case, so a case-sensitive
LIKE is compiled to GLOB there.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Dialect,
    Integer,
    Join,
    Select,
    and_,
    bindparam,
    case,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.ext.compiler import compiles

from shipyard._text import is_decimal
from shipyard.entities import ViewType
from shipyard.errors import InvalidFilter, InvalidParameter
from shipyard.store.search import (
    Comparison,
    OrderBy,
    parse_experiment_filter,
    parse_experiment_order_by,
    parse_run_filter,
    parse_run_order_by,
)
from shipyard.store.sql._rows import SEARCH_COLUMNS
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

__all__ = [
    "check_experiment_number",
    "compare",
    "experiment_id_or_none",
    "experiment_query",
    "fetch_phases",
    "run_query",
    "searched_experiments",
]

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
    if not is_decimal(experiment_id) or len(experiment_id) > 10:
        return None
    key = int(experiment_id)
    return key if key <= _MAX_EXPERIMENT_ID else None


def check_experiment_number(experiment_id: object) -> None:
    """Refuse an experiment id that is not a (signed) ASCII decimal number: a bad id (400), as
    MLflow's server answers; a number no experiment has is the caller's "not found"."""
    text = str(experiment_id).removeprefix("-")
    if not (text.isascii() and text.isdigit()):
        raise InvalidParameter(
            f"Invalid experiment ID '{experiment_id}'. Experiment ID must be a valid integer."
        )


def searched_experiments(experiment_ids: Sequence[str]) -> list[int]:
    """The keys of the experiments a search names: text that is no number is a 400 (as on
    MLflow's server), a number no experiment can have is left out (it finds no runs)."""
    keys = []
    for experiment_id in experiment_ids:
        key = experiment_id_or_none(experiment_id)
        if key is None:
            check_experiment_number(experiment_id)
        else:
            keys.append(key)
    return keys


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
    # A backslash is a plain character, as in SQLite's LIKE (PostgreSQL's default escapes with
    # it: ``ESCAPE ''`` turns that off), so both backends match what MLflow's server matches.
    if op == "LIKE":
        if dialect == "sqlite":
            return col.op("GLOB")(_glob(value))  # type: ignore[no-any-return]
        return col.like(value, escape="")  # type: ignore[no-any-return]
    if op == "ILIKE":
        return col.ilike(value, escape=None if dialect == "sqlite" else "")  # type: ignore[no-any-return]
    if op == "IN":
        return col.in_(list(value))  # type: ignore[no-any-return]
    if op == "NOT IN":
        return col.not_in(list(value))  # type: ignore[no-any-return]
    raise InvalidFilter(f"Unsupported comparator '{op}'")


compare = _compare


def _keyed_exists(table: Any, owner: Any, c: Comparison, dialect: str) -> ColumnElement[bool]:
    base = and_(table.c[owner.key] == owner, table.c.key == c.key)
    if c.op == "IS NULL":
        return not_(exists().where(base))
    if c.op == "IS NOT NULL":
        return exists().where(base)
    return exists().where(base, _compare(table.c.value, c.op, c.value, dialect))


def _metric_cond(c: Comparison, dialect: str) -> ColumnElement[bool]:
    """A run whose latest value of the key compares true. As on MLflow's server a NaN (stored
    as 0.0 with ``is_nan``) compares as IEEE says: unequal to every value, and nothing else."""
    lm = latest_metrics.c
    cond = _compare(lm.value, c.op, c.value, dialect)
    cond = or_(lm.is_nan == true(), cond) if c.op == "!=" else and_(lm.is_nan == false(), cond)
    return exists().where(lm.run_uuid == runs.c.run_uuid, lm.key == c.key, cond)


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


def _orders_by_start(order: Sequence[OrderBy]) -> bool:
    return any(o.kind == "attribute" and o.key == "start_time" for o in order)


def _run_order(
    q: Select[Any],
    order: Sequence[OrderBy],
    lead: Sequence[Any] = (),
    start_time_seen: bool = False,
) -> Select[Any]:
    clauses: list[Any] = list(lead)
    for i, o in enumerate(order, start=len(lead)):
        if o.kind == "attribute":
            col = _RUN_ATTRS[o.key]
            clauses += _nulls_last(col, col.is_(None), o.ascending)
            continue
        table = {"metric": latest_metrics, "param": params, "tag": tags}[o.kind]
        alias = table.alias(f"order_{i}")
        q = q.outerjoin(alias, and_(alias.c.run_uuid == runs.c.run_uuid, alias.c.key == o.key))
        if o.kind == "metric":  # values, then NaNs, then runs without the metric
            nan_then_missing = case(
                (alias.c.run_uuid.is_(None), 2), (alias.c.is_nan == true(), 1), else_=0
            )
            value = alias.c.value.asc() if o.ascending else alias.c.value.desc()
            clauses += [nan_then_missing, value]
            continue
        clauses += _nulls_last(alias.c.value, alias.c.run_uuid.is_(None), o.ascending)
    if not start_time_seen and not any(
        o.kind == "attribute" and o.key == "start_time" for o in order
    ):
        clauses.append(runs.c.start_time.desc())
    clauses.append(runs.c.run_uuid.asc())
    return q.order_by(*clauses)


class _DrivingJoin(Join):
    """An inner join SQLite must evaluate left to right (``CROSS JOIN`` is its planner hint)."""

    inherit_cache = True


@compiles(_DrivingJoin)
def _join_default(element: _DrivingJoin, compiler: Any, **kw: Any) -> str:
    return str(compiler.visit_join(element, **kw))


@compiles(_DrivingJoin, "sqlite")
def _join_sqlite(element: _DrivingJoin, compiler: Any, **kw: Any) -> str:
    kw["asfrom"] = True
    left = compiler.process(element.left, **kw)
    right = compiler.process(element.right, **kw)
    return f"{left} CROSS JOIN {right} ON {compiler.process(element.onclause, **kw)}"


def _selective(filters: Sequence[Comparison]) -> bool:
    """A filter on run ids picks a handful of runs: better found by id than by metric order."""
    return any(c.kind == "attribute" and c.key == "run_id" and c.op in ("=", "IN") for c in filters)


# ``!=`` stays a condition of its own: a run whose latest value is NaN passes it (``_metric_cond``)
# and belongs to the second phase.
_FOLDABLE = frozenset({"=", ">", ">=", "<", "<="})


def _metric_first(
    base: Sequence[Any], filters: Sequence[Comparison], order: Sequence[OrderBy], dialect: str
) -> list[Select[Any]]:
    """Order by a metric as two phases: runs that have it, walked in the (key, value) index's
    order so ``LIMIT`` stops early instead of sorting every run; then the runs whose latest
    value is NaN, and last those that lack it (MLflow's order, in both directions).

    A filter on the ordering metric itself is a condition on the joined row (the run's one
    latest value of that key), not a second lookup, and the index walk can start at the bound;
    a run without the metric (or with NaN) fails such a filter, so the second phase is dropped.
    """
    first, rest = order[0], order[1:]
    lm = latest_metrics.alias("order_0")
    folded = [c for c in filters if c.kind == "metric" and c.key == first.key and c.op in _FOLDABLE]
    conds = [*base, *(_run_cond(c, dialect) for c in filters if c not in folded)]
    on = and_(lm.c.run_uuid == runs.c.run_uuid, lm.c.key == first.key)
    present = select(*SEARCH_COLUMNS).select_from(_DrivingJoin(lm, runs, on))
    present = present.where(
        lm.c.is_nan == false(),
        *(_compare(lm.c.value, c.op, c.value, dialect) for c in folded),
        *conds,
    )
    value = lm.c.value.asc() if first.ascending else lm.c.value.desc()
    seen = _orders_by_start(order)
    phases = [_run_order(present, rest, lead=[value], start_time_seen=seen)]
    if folded:
        return phases
    lmc = latest_metrics.c
    mine = and_(lmc.run_uuid == runs.c.run_uuid, lmc.key == first.key)
    has_it = exists().where(mine, lmc.is_nan == false())
    nan_first = case((exists().where(mine, lmc.is_nan == true()), 0), else_=1)
    absent = select(*SEARCH_COLUMNS).where(*conds, not_(has_it))
    phases.append(_run_order(absent, rest, lead=[nan_first], start_time_seen=seen))
    return phases


def run_query(
    experiment_ids: Sequence[int],
    filter_string: str | None,
    view_type: ViewType,
    order_by: Sequence[str],
    dialect: str = "sqlite",
) -> list[Select[Any]]:
    """The search as one or more queries whose results are concatenated in order (phases).

    The same search (a UI polling, a client paging) is parsed and built once: the queries
    are kept for the last 256 distinct searches (~0.3 ms of parsing and building a search,
    and SQLAlchemy keeps a statement's cache key with it). Statements are immutable, so
    threads share them; a filter that does not parse raises every time (nothing is kept)."""
    return list(
        _run_query(tuple(experiment_ids), filter_string, view_type, tuple(order_by), dialect)
    )


@functools.lru_cache(maxsize=256)
def _run_query(
    experiment_ids: tuple[int, ...],
    filter_string: str | None,
    view_type: ViewType,
    order_by: tuple[str, ...],
    dialect: str,
) -> tuple[Select[Any], ...]:
    filters = parse_run_filter(filter_string)
    base = [
        runs.c.experiment_id.in_(list(experiment_ids)),
        runs.c.lifecycle_stage.in_(view_type.stages()),
    ]
    order = parse_run_order_by(order_by)
    if order and order[0].kind == "metric" and not _selective(filters):
        return tuple(_metric_first(base, filters, order, dialect))
    conds = [*base, *(_run_cond(c, dialect) for c in filters)]
    return (_run_order(select(*SEARCH_COLUMNS).where(*conds), order),)


@dataclass(frozen=True)
class _DriverForm:
    """A paged search query compiled once: its SQL, its parameters, and their order for a
    driver that takes them by position (SQLite); ``_skip`` and ``_want`` are the page's."""

    sql: str
    params: dict[str, Any]
    order: tuple[str, ...]


@functools.lru_cache(maxsize=512)
def _driver_form(query: Select[Any], dialect: Dialect) -> _DriverForm | None:
    """``query`` with its ``OFFSET`` and ``LIMIT`` as parameters, compiled for ``dialect``
    (its lists of ids written out), to send through the driver as is. SQLAlchemy's work on
    every execution of a statement (its cache key, the lists' expansion, the result's set-up)
    was ~0.15-0.2 ms of a 1.6 ms search on PostgreSQL; the queries are already built once per
    search (``_run_query``). The query's own values are converted here as SQLAlchemy would
    convert them on each execution (SQLite's ``Float`` passes a value through ``float``);
    None when the page's or a list's values would need converting: such a query is executed
    by SQLAlchemy."""
    paged = query.offset(bindparam("_skip", 0, type_=Integer))
    paged = paged.limit(bindparam("_want", 1, type_=Integer))
    compiled = paged.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    params = dict(compiled.params)
    for bind, name in compiled.bind_names.items():
        convert = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if convert is None:
            continue
        if name in ("_skip", "_want") or name not in params:  # (a list's values: name_1, ...)
            return None
        params[name] = convert(params[name])
    return _DriverForm(compiled.string, params, tuple(compiled.positiontup or ()))


def _page_rows(conn: Connection, query: Select[Any], skip: int, want: int) -> list[Any]:
    """Rows ``skip .. skip + want`` of ``query``, planned for their values: psycopg prepares a
    statement run five times, and PostgreSQL then settles on a generic plan, made without the
    values: for a search that is the hash join over every run that the (key, value) statistics
    were there to avoid (8.7 -> 14-17 ms here). A search is planned each time instead."""
    form = _driver_form(query, conn.dialect)
    if form is None:
        result = conn.execute(query.offset(skip).limit(want))
    else:
        params = {**form.params, "_skip": skip, "_want": want}
        if form.order:
            result = conn.exec_driver_sql(form.sql, tuple(params[k] for k in form.order))
        else:
            result = conn.exec_driver_sql(form.sql, params)
    return list(result.all())


def _custom_plan(conn: Connection, query: Select[Any], skip: int, want: int) -> list[Any]:
    """``_page_rows``, on PostgreSQL with psycopg's automatic preparing off for the call."""
    if conn.dialect.name != "postgresql":
        return _page_rows(conn, query, skip, want)
    driver = conn.connection.driver_connection
    threshold = driver.prepare_threshold  # type: ignore[union-attr]
    driver.prepare_threshold = None  # type: ignore[union-attr]
    try:
        return _page_rows(conn, query, skip, want)
    finally:
        driver.prepare_threshold = threshold  # type: ignore[union-attr]


def fetch_phases(
    conn: Connection, phases: Sequence[Select[Any]], offset: int, limit: int
) -> list[Any]:
    """Rows ``offset .. offset + limit`` of the phases' concatenation."""
    rows: list[Any] = []
    skip = offset
    for i, query in enumerate(phases):
        want = limit - len(rows)
        if want <= 0:
            break
        got = _custom_plan(conn, query, skip, want)
        rows += got
        if got:
            skip = 0
        elif skip and i < len(phases) - 1:
            total = conn.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
            skip = max(0, skip - int(total or 0))
    return rows


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
