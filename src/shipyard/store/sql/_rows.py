"""Turning rows into entities, with each run's data loaded in bulk (a few queries per page)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, bindparam, select

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
from shipyard.store.sql._schema import (
    dataset_inputs,
    datasets,
    experiment_tags,
    input_tags,
    latest_metrics,
    params,
    run_model_io,
    runs,
    tags,
)

__all__ = ["RUN_COLUMNS", "load_experiments", "load_runs", "metric_value", "run_info"]

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


def _group(conn: Connection, ids: list[str], *columns: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Rows of ``columns`` (the first is ``run_uuid``) for these runs, grouped by run."""
    out: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for row in fetch_tuples(conn, select(*columns).where(columns[0].in_(ids))):
        out[row[0]].append(row)
    return out


def _inputs(conn: Connection, ids: list[str]) -> dict[str, list[DatasetInput]]:
    it = input_tags.c
    tag_rows = _group(conn, ids, it.run_uuid, it.dataset_id, it.key, it.value)
    q = (
        select(dataset_inputs.c.run_uuid, datasets)
        .join(datasets, datasets.c.dataset_id == dataset_inputs.c.dataset_id)
        .where(dataset_inputs.c.run_uuid.in_(ids))
        .order_by(datasets.c.dataset_id)
    )
    out: dict[str, list[DatasetInput]] = defaultdict(list)
    for r in conn.execute(q):
        ds = Dataset(r.name, r.digest, r.source_type, r.source, r.schema, r.profile)
        itags = tuple(
            Tag(key, value)
            for _, dataset_id, key, value in tag_rows.get(r.run_uuid, [])
            if dataset_id == r.dataset_id
        )
        out[r.run_uuid].append(DatasetInput(ds, itags))
    return out


def load_runs(conn: Connection, rows: Sequence[Row[Any]]) -> list[Run]:
    """Full runs for a page of run rows, in the rows' order (a fixed number of queries)."""
    ids = [r.run_uuid for r in rows]
    if not ids:
        return []
    p = _group(conn, ids, params.c.run_uuid, params.c.key, params.c.value)
    t = _group(conn, ids, tags.c.run_uuid, tags.c.key, tags.c.value)
    lm = latest_metrics.c
    m = _group(conn, ids, lm.run_uuid, lm.key, lm.value, lm.is_nan, lm.timestamp, lm.step)
    io = _group(conn, ids, run_model_io.c.run_uuid, run_model_io.c.model_id,
                run_model_io.c.direction, run_model_io.c.step)  # fmt: skip
    ins = _inputs(conn, ids)
    nan = math.nan
    result = []
    for r in rows:
        rid = r.run_uuid
        data = RunData(
            metrics=[
                Metric(key, nan if is_nan else value, ts, step)
                for _, key, value, is_nan, ts, step in m.get(rid, ())
            ],
            params={key: value for _, key, value in p.get(rid, ())},
            tags={key: value for _, key, value in t.get(rid, ())},
        )
        links = io.get(rid, ())
        result.append(
            Run(
                info=run_info(r),
                data=data,
                inputs=ins.get(rid, []),
                model_inputs=[mid for _, mid, direction, _ in links if direction == "input"],
                model_outputs=[
                    (mid, st) for _, mid, direction, st in links if direction == "output"
                ],
            )
        )
    return result
