"""Turning rows into entities, with each run's data loaded in bulk (a few queries per page)."""

from __future__ import annotations

import functools
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson
from sqlalchemy import (
    JSON,
    ColumnElement,
    Connection,
    Row,
    Select,
    Table,
    Text,
    any_,
    bindparam,
    cast,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by

from shipyard.entities import (
    Dataset,
    DatasetInput,
    Experiment,
    Metric,
    Run,
    RunData,
    RunInfo,
    Tag,
)
from shipyard.store.sql._dialect import fetch_tuples
from shipyard.store.sql._kept_bodies import Filled, KeptBodies
from shipyard.store.sql._schema import (
    dataset_inputs,
    datasets,
    experiment_tags,
    input_tags,
    latest_metrics,
    params,
    run_model_io,
    run_wire,
    runs,
    tags,
)
from shipyard.wire import dataset_input_to_json, double_to_json, run_info_values_to_json

__all__ = [
    "RUN_COLUMNS",
    "RUN_COLUMNS_SQL",
    "SEARCH_COLUMNS",
    "RunJson",
    "RunRow",
    "among",
    "id_params",
    "load_experiments",
    "load_runs",
    "metric_json",
    "metric_value",
    "run_bodies",
    "run_children",
    "run_info",
    "runs_json",
]

RUN_COLUMNS = (
    runs.c.run_uuid,
    runs.c.name,
    runs.c.experiment_id,
    runs.c.user_id,
    runs.c.status,
    runs.c.start_time,
    runs.c.end_time,
    runs.c.artifact_uri,
    runs.c.lifecycle_stage,
)
# The same columns for hand-written SQL (``_pg``, ``_lite``).
RUN_COLUMNS_SQL = ", ".join(c.name for c in RUN_COLUMNS)


class RunRow(NamedTuple):
    """A run's row with ``RUN_COLUMNS``' names, for ``run_info``, from a driver's plain tuple."""

    run_uuid: str
    name: str | None
    experiment_id: int
    user_id: str | None
    status: str
    start_time: int | None
    end_time: int | None
    artifact_uri: str | None
    lifecycle_stage: str


# What a search reads: the run's columns, whether its wire form is kept (``_run_docs``) and
# the generation of the kept body (``_kept_bodies``).
SEARCH_COLUMNS = (*RUN_COLUMNS, runs.c.wire_kept, runs.c.wire_gen)


_EXPERIMENT_TAGS = select(experiment_tags).where(
    experiment_tags.c.experiment_id.in_(bindparam("ids", expanding=True))
)


def metric_value(value: float, is_nan: bool) -> float:
    return math.nan if is_nan else value


def run_info(row: Row[Any]) -> RunInfo:
    return RunInfo(
        run_id=row.run_uuid,
        experiment_id=str(row.experiment_id),
        run_name=row.name or "",
        user_id=row.user_id or "",
        status=row.status,
        start_time=row.start_time,
        end_time=row.end_time,
        artifact_uri=row.artifact_uri or "",
        lifecycle_stage=row.lifecycle_stage,
    )


def load_experiments(conn: Connection, rows: Sequence[Row[Any]]) -> list[Experiment]:
    ids = [r.experiment_id for r in rows]
    tag_map: dict[int, dict[str, str]] = defaultdict(dict)
    if ids:
        for t in conn.execute(_EXPERIMENT_TAGS, {"ids": ids}):
            tag_map[t.experiment_id][t.key] = t.value
    return [
        Experiment(
            experiment_id=str(r.experiment_id),
            name=r.name,
            artifact_location=r.artifact_location,
            lifecycle_stage=r.lifecycle_stage,
            creation_time=r.creation_time,
            last_update_time=r.last_update_time,
            tags=tag_map.get(r.experiment_id, {}),
        )
        for r in rows
    ]


def among(dialect: str, column: Any) -> ColumnElement[bool]:
    """``column IN :ids`` with the ids as one JSON text parameter, parsed in C on both sides:
    on PostgreSQL ``= ANY(array)`` (psycopg's text form of a list quotes each element through a
    regular expression, ~40 ms of reading 5,000 runs here), on SQLite ``IN (json_each)``."""
    text = bindparam("ids", type_=Text)
    if dialect == "postgresql":
        elements = select(func.json_array_elements_text(cast(text, JSON))).scalar_subquery()
        return column == any_(func.array(elements))  # type: ignore[no-any-return]
    # (SQLAlchemy renders an expanding IN as one bound parameter per id, ~7 ms a page of 1,000)
    return column.in_(select(literal_column("value")).select_from(func.json_each(text)))  # type: ignore[no-any-return]


def id_params(ids: list[str]) -> dict[str, str]:
    """The parameters of an ``among`` statement."""
    return {"ids": orjson.dumps(ids).decode()}


# The child statements of a page are the same every time but for the ids: each is built once
# per dialect (construction and SQLAlchemy's cache key were ~0.1 ms a statement, five a page).
@functools.cache
def _group_statement(dialect: str, columns: tuple[Any, ...]) -> Select[Any]:
    return select(*columns).where(among(dialect, columns[0])).order_by(columns[0], columns[1])


@functools.cache
def _pairs_statement(dialect: str, table: Table) -> Select[Any]:
    c = table.c
    key: ColumnElement[str] = literal_column("'key'")
    value: ColumnElement[str] = literal_column("'value'")
    agg: ColumnElement[str]
    if dialect == "sqlite":
        agg = func.json_group_array(func.json_object(key, c.key, value, c.value))
    else:
        # Compact text, as orjson and SQLite write it (``json_build_object`` writes
        # ``{"key" : "a", "value" : "b"}``, ~10% more to send on every read): each pair by
        # concatenation, ``to_json`` quoting and escaping each string; a NULL tag value is null.
        quoted_value = func.coalesce(cast(func.to_json(c.value), Text), "null")
        pair = func.concat(
            '{"key":', cast(func.to_json(c.key), Text), ',"value":', quoted_value, "}"
        )
        items = func.string_agg(pair, aggregate_order_by(literal_column("','"), c.key))
        agg = func.concat("[", items, "]")
    return select(c.run_uuid, agg).where(among(dialect, c.run_uuid)).group_by(c.run_uuid)


@functools.cache
def _inputs_statement(dialect: str) -> Select[Any]:
    return (
        select(dataset_inputs.c.run_uuid, datasets)
        .join(datasets, datasets.c.dataset_id == dataset_inputs.c.dataset_id)
        .where(among(dialect, dataset_inputs.c.run_uuid))
        # In the order the run logged them (``position``); rows from before migration 0012
        # share position 0 and keep the dataset id's order.
        .order_by(dataset_inputs.c.position, datasets.c.dataset_id)
    )


def _group(conn: Connection, ids: list[str], *columns: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Rows of ``columns`` (the first is ``run_uuid``, the second ``key`` or an id) for these
    runs, grouped by run and in key order, as ``_pairs_json`` gives them."""
    out: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    q = _group_statement(conn.dialect.name, columns)
    for row in fetch_tuples(conn, q, id_params(ids)):
        out[row[0]].append(row)
    return out


def _inputs(conn: Connection, ids: list[str]) -> dict[str, list[DatasetInput]]:
    rows = conn.execute(_inputs_statement(conn.dialect.name), id_params(ids)).all()
    if not rows:  # most pages: no input tags to look for either
        return {}
    it = input_tags.c
    used = list({r.run_uuid: None for r in rows})
    tag_rows = _group(conn, used, it.run_uuid, it.dataset_id, it.key, it.value)
    out: dict[str, list[DatasetInput]] = defaultdict(list)
    for r in rows:
        ds = Dataset(r.name, r.digest, r.source_type, r.source, r.schema, r.profile)
        itags = tuple(
            Tag(key, value)
            for _, dataset_id, key, value in tag_rows.get(r.run_uuid, [])
            if dataset_id == r.dataset_id
        )
        out[r.run_uuid].append(DatasetInput(ds, itags))
    return out


def _pairs_json(conn: Connection, ids: list[str], table: Table) -> dict[str, orjson.Fragment]:
    """Each run's ``[{"key": ..., "value": ...}, ...]`` for params or tags, as the database
    writes it: one row per run instead of one per pair, and no dict per pair in Python. Strings
    only, so the database's JSON is exactly what orjson would write; a ``Fragment`` goes into
    orjson's output as it is."""
    q = _pairs_statement(conn.dialect.name, table)
    return {run_id: orjson.Fragment(text) for run_id, text in fetch_tuples(conn, q, id_params(ids))}


@dataclass(frozen=True, slots=True)
class _Children:
    """A page of runs' data, grouped by run id: the rows as the driver gave them, or for the
    wire form, params and tags as JSON fragments (``_pairs_json``)."""

    params: dict[str, Any]
    tags: dict[str, Any]
    metrics: dict[str, list[tuple[Any, ...]]]
    links: dict[str, list[tuple[Any, ...]]]
    inputs: dict[str, list[DatasetInput]]


def run_children(conn: Connection, ids: list[str], wire_form: bool = False) -> _Children:
    lm = latest_metrics.c
    io = run_model_io.c
    pairs: tuple[dict[str, Any], dict[str, Any]]
    if wire_form:
        pairs = _pairs_json(conn, ids, params), _pairs_json(conn, ids, tags)
    else:
        pairs = (
            _group(conn, ids, params.c.run_uuid, params.c.key, params.c.value),
            _group(conn, ids, tags.c.run_uuid, tags.c.key, tags.c.value),
        )
    return _Children(
        params=pairs[0],
        tags=pairs[1],
        metrics=_group(conn, ids, lm.run_uuid, lm.key, lm.value, lm.is_nan, lm.timestamp, lm.step),
        links=_group(conn, ids, io.run_uuid, io.model_id, io.direction, io.step),
        inputs=_inputs(conn, ids),
    )


def load_runs(conn: Connection, rows: Sequence[Row[Any]]) -> list[Run]:
    """Full runs for a page of run rows, in the rows' order (a fixed number of queries)."""
    ids = [r.run_uuid for r in rows]
    if not ids:
        return []
    c = run_children(conn, ids)
    nan = math.nan
    result = []
    for r in rows:
        rid = r.run_uuid
        data = RunData(
            metrics=[
                Metric(key, nan if is_nan else value, ts, step)
                for _, key, value, is_nan, ts, step in c.metrics.get(rid, ())
            ],
            params={key: value for _, key, value in c.params.get(rid, ())},
            tags={key: value for _, key, value in c.tags.get(rid, ())},
        )
        links = c.links.get(rid, ())
        result.append(
            Run(
                info=run_info(r),
                data=data,
                inputs=c.inputs.get(rid, []),
                model_inputs=[mid for _, mid, direction, _ in links if direction == "input"],
                model_outputs=[
                    (mid, st) for _, mid, direction, st in links if direction == "output"
                ],
            )
        )
    return result


def metric_json(key: str, value: float, is_nan: bool, ts: int, step: int) -> dict[str, Any]:
    # NaN and ±inf travel as strings; ``value - value`` is 0.0 for every finite value.
    out = value if value - value == 0 else double_to_json(value)
    return {"key": key, "value": "NaN" if is_nan else out, "timestamp": ts, "step": step}


def _body(c: _Children, rid: str) -> dict[str, Any]:
    """A run's wire form without ``info``: ``data`` (empty lists left out), ``inputs``,
    ``outputs``."""
    data: dict[str, Any] = {}
    if m := c.metrics.get(rid):
        # A dict made in place per finite point; NaN and ±inf through ``metric_json``.
        data["metrics"] = [
            {"key": key, "value": value, "timestamp": ts, "step": step}
            if not is_nan and value - value == 0
            else metric_json(key, value, is_nan, ts, step)
            for _, key, value, is_nan, ts, step in m
        ]
    if p := c.params.get(rid):
        data["params"] = p
    if t := c.tags.get(rid):
        data["tags"] = t
    inputs: dict[str, Any] = {}
    if ins := c.inputs.get(rid):
        inputs["dataset_inputs"] = [dataset_input_to_json(d) for d in ins]
    outputs: dict[str, Any] = {}
    if links := c.links.get(rid):
        if ins_ := [{"model_id": mid} for _, mid, d, _ in links if d == "input"]:
            inputs["model_inputs"] = ins_
        if outs := [{"model_id": mid, "step": st} for _, mid, d, st in links if d == "output"]:
            outputs["model_outputs"] = outs
    return {"data": data, "inputs": inputs, "outputs": outputs}


def run_bodies(conn: Connection, ids: list[str]) -> dict[str, dict[str, Any]]:
    """Each run's wire form without ``info`` (``_body``), by run id, from its tables."""
    c = run_children(conn, ids, wire_form=True)
    return {rid: _body(c, rid) for rid in ids}


@functools.cache
def _kept_statement(dialect: str) -> Select[Any]:
    """The kept bodies of some runs, with the flag and generation they were read with."""
    return (
        select(run_wire.c.run_uuid, run_wire.c.body, runs.c.wire_kept, runs.c.wire_gen)
        .select_from(run_wire.join(runs, runs.c.run_uuid == run_wire.c.run_uuid))
        .where(among(dialect, run_wire.c.run_uuid))
    )


# A search result: a run's wire form as a dict, or (kept JSON) as JSON text orjson embeds.
RunJson = dict[str, Any] | orjson.Fragment


def runs_json(
    conn: Connection,
    rows: Sequence[Row[Any]],
    held: KeptBodies,
    filled: Filled | None = None,
) -> list[RunJson]:
    """What ``wire.run_to_json(load_runs(...)[i])`` gives, built straight from the rows
    (``SEARCH_COLUMNS``); encode the result with orjson.

    The server's read path (a page of 1,000 runs holds ~25,000 child rows): no entities in
    between, and params and tags come as ``orjson.Fragment``s. A run whose body is kept
    (``wire_kept``) is not read from its tables: its body comes from ``filled`` (what
    ``_run_docs.fill`` just stored), else from ``held`` (this process's bodies, for the row's
    generation; ``KeptBodies(0)`` holds none), else from ``run_wire`` in a second statement,
    and what was read is held for the next time. Its ``info`` (from the row, so always
    current) is put in front of the kept object, and the whole run is one ``Fragment``.
    ``test_runs_json_matches_the_entities`` holds the paths to the same output.
    """
    # Rows by position, in SEARCH_COLUMNS' order: a Row's attribute lookups and a RunInfo in
    # between cost ~8 us a run.
    values: list[tuple[Any, ...]] = [tuple(r) for r in rows]
    tails: dict[str, bytes] = {}  # a kept body without its "{": what follows the run's info
    if filled is not None:
        for rid, doc in filled.bodies.items():
            tails[rid] = tail = doc[1:].encode()
            held.put(rid, filled.gen, tail)
    for v in values:
        if v[9] and v[0] not in tails and (hit := held.get(v[0], v[10])) is not None:
            tails[v[0]] = hit
    if wanted := [v[0] for v in values if v[9] and v[0] not in tails]:
        q = _kept_statement(conn.dialect.name)
        for rid, doc, still_kept, gen in fetch_tuples(conn, q, id_params(wanted)):
            tails[rid] = tail = doc[1:].encode()
            if still_kept and gen is not None:
                held.put(rid, gen, tail)
    todo = [v[0] for v in values if v[0] not in tails]  # (a body purged meanwhile: read it)
    bodies = run_bodies(conn, todo) if todo else {}
    dumps = orjson.dumps
    result: list[RunJson] = []
    for rid, name, experiment_id, user_id, status, start, end, uri, stage, _, _ in values:
        info = run_info_values_to_json(
            rid, name, experiment_id, user_id, status, start, end, uri, stage
        )
        kept = tails.get(rid)
        if kept is None:
            result.append({"info": info, **bodies[rid]})
        else:  # the kept body is '{"data":...}': the run is '{"info":...,"data":...}'
            result.append(orjson.Fragment(b'{"info":' + dumps(info) + b"," + kept))
    return result
