"""Bulk writes of run data: params, metrics (history and latest), tags, inputs and outputs."""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import BindParameter, Connection, Table, bindparam, func, select, tuple_

from shipyard.entities import DatasetInput, Metric, MetricColumns, Param
from shipyard.errors import ImmutableParam, InvalidParameter
from shipyard.store._protocol import Page
from shipyard.store.search import HistoryCursor, encode_history_token
from shipyard.store.sql._dialect import dialect_insert, fetch_tuples, upsert
from shipyard.store.sql._rows import metric_json
from shipyard.store.sql._schema import (
    dataset_inputs,
    datasets,
    input_tags,
    metrics,
    run_model_io,
)

__all__ = [
    "HistoryPage",
    "PointColumns",
    "changed_param",
    "history",
    "history_json",
    "link_dataset",
    "link_model",
    "point_columns",
    "run_artifact_uri",
    "upsert_tag",
    "wanted_params",
]


# Statements are immutable once built: each is built once per dialect and reused, since building
# an ON CONFLICT statement (with its ``excluded`` alias) costs more than running it on SQLite.
@functools.cache
def _tag_upsert(dialect: str, table: Table, owner: str) -> Any:
    stmt = dialect_insert(dialect, table)
    return stmt.on_conflict_do_update(
        index_elements=[owner, "key"], set_={"value": stmt.excluded.value}
    )


def upsert_tag(conn: Connection, table: Table, owner: str) -> Any:
    return _tag_upsert(conn.dialect.name, table, owner)


def run_artifact_uri(experiment_location: str, run_id: str) -> str:
    """Where a new run's artifacts go: under its experiment's location."""
    return f"{experiment_location.rstrip('/')}/{run_id}/artifacts"


def wanted_params(new: Sequence[Param]) -> dict[str, str]:
    """A batch's params by key; a key twice is refused, with its value or another (as by
    MLflow's server, whose message this is)."""
    wanted = {p.key: p.value for p in new}
    if len(wanted) < len(new):
        counts = Counter(p.key for p in new)
        twice = sorted(key for key, n in counts.items() if n > 1)
        raise InvalidParameter(
            f"Duplicate parameter keys have been submitted: {twice}. Please ensure the request "
            "contains only one param value per param key."
        )
    return wanted


def changed_param(run_id: str, key: str, old: str, new: str) -> ImmutableParam:
    return ImmutableParam(
        f"Changing param values is not allowed. Param with key='{key}' was already "
        f"logged with value='{old}' for run ID='{run_id}'. Attempted logging new value '{new}'."
    )


class PointColumns(NamedTuple):
    """A batch's points as columns (a NaN's value stored as 0.0 with ``nans`` set), and the
    positions of each key's latest point as MLflow picks it: the largest (step, timestamp,
    value), a NaN counting as its stored 0.0, the first of equals. ``latest_metrics`` replaces
    its row under the same rule."""

    keys: list[str]
    stamps: list[int]
    steps: list[int]
    values: list[float]
    nans: list[bool]
    newest: list[int]

    def latest(self) -> list[list[Any]]:
        """The newest points' columns in ``latest_metrics``' order: key, step, timestamp,
        value, is_nan."""
        cols = (self.keys, self.steps, self.stamps, self.values, self.nans)
        return [[col[i] for i in self.newest] for col in cols]


def point_columns(points: Sequence[Metric]) -> PointColumns:
    """Columns built by comprehension, not a tuple per point (a fifth of a PostgreSQL batch of
    1,000 was building rows and then turning them into columns)."""
    if isinstance(points, MetricColumns):
        keys, stamps, steps, values = points.keys, points.stamps, points.steps, points.values
    else:
        keys = [m.key for m in points]
        stamps = [m.timestamp for m in points]
        steps = [m.step for m in points]
        values = [m.value for m in points]
    nans = [v != v for v in values]
    if True in nans:
        values = [0.0 if nan else v for v, nan in zip(values, nans, strict=True)]
    n = len(keys)
    if (
        steps == sorted(steps)
        and stamps == sorted(stamps)
        and (len(set(steps)) == n or len(set(zip(keys, steps, stamps, strict=True))) == n)
    ):
        # (step, timestamp) never goes down and no key has two points at the same one, so a
        # key's last point is its latest: the common case of a training loop's batch, found
        # without a comparison per point.
        newest = list(dict(zip(keys, range(n), strict=True)).values())
    else:
        best: dict[str, int] = {}
        for i, key in enumerate(keys):
            j = best.get(key)
            if j is None or (steps[i], stamps[i], values[i]) > (steps[j], stamps[j], values[j]):
                best[key] = i
        newest = list(best.values())
    return PointColumns(keys, stamps, steps, values, nans, newest)


class HistoryPage(NamedTuple):
    """One page of a metric's history: whose, from where (``after`` when the token carries a
    cursor, else ``offset``), and at most how many points (None: all)."""

    run_id: str
    key: str
    offset: int
    after: HistoryCursor | None
    max_results: int | None


def _history_rows(conn: Connection, page: HistoryPage) -> tuple[list[tuple[Any, ...]], str | None]:
    """(value, is_nan, timestamp, step) of the page's points, in history order, and the next
    page's token. A page after ``after`` starts at that point in the primary key's order (the
    key is (run, key, timestamp, step, value, is_nan)), so the fourth page of 25,000 reads 25,000
    entries, not 100,000; MLflow's offset-only tokens still skip ``offset`` points."""
    m = metrics.c
    run_id, key, offset, after, max_results = page
    q = select(m.value, m.is_nan, m.timestamp, m.step).where(m.run_uuid == run_id, m.key == key)
    if after is not None:
        q = q.where(tuple_(m.timestamp, m.step, m.value, m.is_nan) > tuple_(*after))
    elif offset:
        q = q.offset(offset)
    q = q.order_by(m.timestamp, m.step, m.value, m.is_nan)
    if max_results is not None:
        q = q.limit(max_results + 1)
    rows = fetch_tuples(conn, q)
    token = None
    if max_results is not None and len(rows) > max_results:
        rows = rows[:max_results]
        value, is_nan, timestamp, step = rows[-1]
        cursor = (timestamp, step, value, bool(is_nan))
        token = encode_history_token(offset + max_results, cursor)
    return rows, token


def history(conn: Connection, page: HistoryPage) -> Page[Metric]:
    rows, token = _history_rows(conn, page)
    nan = math.nan
    items = [Metric(page.key, nan if is_nan else v, ts, step) for v, is_nan, ts, step in rows]
    return Page(items, token)


def history_json(conn: Connection, page: HistoryPage) -> Page[dict[str, Any]]:
    """``history`` in wire form, without a ``Metric`` per point in between (a dict per point
    made in place: a call per point was a fifth of a 25,000-point page)."""
    key = page.key
    rows, token = _history_rows(conn, page)
    items = [
        {"key": key, "value": v, "timestamp": ts, "step": step}
        if not is_nan and v - v == 0  # finite; NaN and ±inf travel as strings
        else metric_json(key, v, is_nan, ts, step)
        for v, is_nan, ts, step in rows
    ]
    return Page(items, token)


@functools.cache
def _input_link(dialect: str) -> Any:
    """A dataset's link to a run, numbered after the run's others (``position``: the order
    MLflow's server lists a run's datasets in). A dataset the run has already keeps its link and
    number. The number is read in the same statement; ``SqlStore.log_inputs`` locks the run, so
    two requests on one run number their datasets one after the other."""
    di = dataset_inputs.c
    run: BindParameter[str] = bindparam("run")
    after_last = select(func.coalesce(func.max(di.position) + 1, 0)).where(di.run_uuid == run)
    stmt = dialect_insert(dialect, dataset_inputs).values(
        run_uuid=run, dataset_id=bindparam("dataset"), position=after_last.scalar_subquery()
    )
    return stmt.on_conflict_do_nothing()


def link_dataset(conn: Connection, experiment_id: int, run_id: str, item: DatasetInput) -> None:
    ds = item.dataset
    conn.execute(
        upsert(conn, datasets).on_conflict_do_nothing(),
        [
            {
                "experiment_id": experiment_id,
                "name": ds.name,
                "digest": ds.digest,
                "source_type": ds.source_type,
                "source": ds.source,
                "schema": ds.schema,
                "profile": ds.profile,
            }
        ],
    )
    dataset_id = conn.scalar(
        select(datasets.c.dataset_id).where(
            datasets.c.experiment_id == experiment_id,
            datasets.c.name == ds.name,
            datasets.c.digest == ds.digest,
        )
    )
    linked = conn.execute(_input_link(conn.dialect.name), {"run": run_id, "dataset": dataset_id})
    # A dataset the run already has keeps the tags (its context) it was first logged with, as on
    # MLflow's server: logging it again, in another context, changes nothing.
    if item.tags and linked.rowcount:
        stmt = upsert(conn, input_tags).on_conflict_do_nothing()
        conn.execute(
            stmt,
            [
                {"run_uuid": run_id, "dataset_id": dataset_id, "key": t.key, "value": t.value}
                for t in item.tags
            ],
        )


def link_model(conn: Connection, run_id: str, model_id: str, direction: str, step: int) -> None:
    stmt = upsert(conn, run_model_io)
    stmt = stmt.on_conflict_do_update(
        index_elements=["run_uuid", "model_id", "direction"], set_={"step": stmt.excluded.step}
    )
    conn.execute(
        stmt, [{"run_uuid": run_id, "model_id": model_id, "direction": direction, "step": step}]
    )
