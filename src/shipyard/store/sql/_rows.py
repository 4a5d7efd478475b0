"""Turning rows into entities, with each run's data loaded in bulk (a few queries per page)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, select

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
        q = select(experiment_tags).where(experiment_tags.c.experiment_id.in_(ids))
        for t in conn.execute(q):
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


def _group(conn: Connection, table: Any, ids: list[str]) -> dict[str, list[Row[Any]]]:
    out: dict[str, list[Row[Any]]] = defaultdict(list)
    for row in conn.execute(select(table).where(table.c.run_uuid.in_(ids))):
        out[row.run_uuid].append(row)
    return out


def _inputs(conn: Connection, ids: list[str]) -> dict[str, list[DatasetInput]]:
    tag_rows = _group(conn, input_tags, ids)
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
            Tag(t.key, t.value)
            for t in tag_rows.get(r.run_uuid, [])
            if t.dataset_id == r.dataset_id
        )
        out[r.run_uuid].append(DatasetInput(ds, itags))
    return out


def load_runs(conn: Connection, rows: Sequence[Row[Any]]) -> list[Run]:
    """Full runs for a page of run rows, in the rows' order."""
    ids = [r.run_uuid for r in rows]
    if not ids:
        return []
    p, t, m = _group(conn, params, ids), _group(conn, tags, ids), _group(conn, latest_metrics, ids)
    io, ins = _group(conn, run_model_io, ids), _inputs(conn, ids)
    result = []
    for r in rows:
        rid = r.run_uuid
        data = RunData(
            metrics=[
                Metric(x.key, metric_value(x.value, x.is_nan), x.timestamp, x.step)
                for x in m.get(rid, [])
            ],
            params={x.key: x.value for x in p.get(rid, [])},
            tags={x.key: x.value for x in t.get(rid, [])},
        )
        links = io.get(rid, [])
        result.append(
            Run(
                info=run_info(r),
                data=data,
                inputs=ins.get(rid, []),
                model_inputs=[x.model_id for x in links if x.direction == "input"],
                model_outputs=[(x.model_id, x.step) for x in links if x.direction == "output"],
            )
        )
    return result
