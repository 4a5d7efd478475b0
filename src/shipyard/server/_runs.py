"""MLflow's ``runs/*`` routes: run lifecycle, logging and search."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from shipyard import wire
from shipyard.entities import Dataset, DatasetInput, Metric, Param, Tag, ViewType
from shipyard.server._fastlane import quick
from shipyard.server._http import (
    MAX_BODY_BYTES,
    FastJSONRoute,
    empty,
    json_response,
    required,
    run_id_of,
    store_of,
)
from shipyard.server._models import (
    CreateRun,
    DatasetInputIn,
    DeleteTag,
    LogBatch,
    LogInputs,
    LogMetric,
    LogOutputs,
    LogParam,
    RunRef,
    SearchRuns,
    SetTag,
    UpdateRun,
)
from shipyard.store import RunQuery

__all__ = ["router"]

router = APIRouter(tags=["runs"], route_class=FastJSONRoute, max_body_size=MAX_BODY_BYTES)

_DEFAULT_EXPERIMENT_ID = "0"
_DEFAULT_MAX_RESULTS = 1000


def _now_ms() -> int:
    return int(time.time() * 1000)


def _dataset_input(item: DatasetInputIn) -> DatasetInput:
    ds = item.dataset
    dataset = Dataset(ds.name, ds.digest, ds.source_type, ds.source, ds.schema_, ds.profile)
    return DatasetInput(dataset, tuple(item.tags))


@router.post("/runs/create")
@quick
def create_run(request: Request, body: CreateRun) -> Response:
    run = store_of(request).create_run(
        experiment_id=body.experiment_id or _DEFAULT_EXPERIMENT_ID,
        user_id=body.user_id or "",
        start_time=_now_ms() if body.start_time is None else body.start_time,
        tags=body.tags,
        run_name=body.run_name or None,
    )
    return json_response({"run": wire.run_to_json(run)})


@router.get("/runs/get")
def get_run(
    request: Request,
    run_id: Annotated[str | None, Query()] = None,
    run_uuid: Annotated[str | None, Query()] = None,
) -> Response:
    run = store_of(request).get_run(run_id_of(run_id, run_uuid))
    return json_response({"run": wire.run_to_json(run)})


@router.post("/runs/update")
@quick
def update_run(request: Request, body: UpdateRun) -> Response:
    info = store_of(request).update_run_info(
        run_id_of(body.run_id, body.run_uuid),
        status=body.status or None,
        end_time=body.end_time,
        run_name=body.run_name or None,
    )
    return json_response({"run_info": wire.run_info_to_json(info)})


@router.post("/runs/delete")
@quick
def delete_run(request: Request, body: RunRef) -> Response:
    store_of(request).delete_run(run_id_of(body.run_id, body.run_uuid))
    return empty()


@router.post("/runs/restore")
@quick
def restore_run(request: Request, body: RunRef) -> Response:
    store_of(request).restore_run(run_id_of(body.run_id, body.run_uuid))
    return empty()


@router.post("/runs/search")
@quick
def search_runs(request: Request, body: SearchRuns) -> Response:
    query = RunQuery(
        experiment_ids=body.experiment_ids,
        filter_string=body.filter or None,
        view_type=ViewType(body.run_view_type or "ACTIVE_ONLY"),
        max_results=_DEFAULT_MAX_RESULTS if body.max_results is None else body.max_results,
        order_by=body.order_by,
        page_token=body.page_token or None,
    )
    page = store_of(request).search_runs_json(query)
    out: dict[str, object] = {"runs": page.items}
    if page.next_page_token:
        out["next_page_token"] = page.next_page_token
    return json_response(out)


@router.post("/runs/log-metric")
@quick
def log_metric(request: Request, body: LogMetric) -> Response:
    metric = Metric(
        body.key,
        body.value,
        body.timestamp,
        body.step,
        model_id=body.model_id or None,
        dataset_name=body.dataset_name or None,
        dataset_digest=body.dataset_digest or None,
    )
    store_of(request).log_batch(run_id_of(body.run_id, body.run_uuid), metrics=[metric])
    return empty()


@router.post("/runs/log-parameter")
@quick
def log_param(request: Request, body: LogParam) -> Response:
    param = Param(body.key, body.value)
    store_of(request).log_batch(run_id_of(body.run_id, body.run_uuid), params=[param])
    return empty()


@router.post("/runs/set-tag")
@quick
def set_tag(request: Request, body: SetTag) -> Response:
    tag = Tag(body.key, body.value)
    store_of(request).log_batch(run_id_of(body.run_id, body.run_uuid), tags=[tag])
    return empty()


@router.post("/runs/delete-tag")
@quick
def delete_tag(request: Request, body: DeleteTag) -> Response:
    store_of(request).delete_tag(run_id_of(body.run_id, body.run_uuid), required(body.key, "key"))
    return empty()


@router.post("/runs/log-batch")
@quick
def log_batch(request: Request, body: LogBatch) -> Response:
    store_of(request).log_batch(
        run_id_of(body.run_id, body.run_uuid),
        metrics=body.metrics,
        params=body.params,
        tags=body.tags,
    )
    return empty()


@router.post("/runs/log-inputs")
def log_inputs(request: Request, body: LogInputs) -> Response:
    store_of(request).log_inputs(
        run_id_of(body.run_id, body.run_uuid),
        datasets=[_dataset_input(d) for d in body.datasets],
        model_ids=[required(m.model_id, "model_id") for m in body.models],
    )
    return empty()


@router.post("/runs/outputs")
def log_outputs(request: Request, body: LogOutputs) -> Response:
    models = [(required(m.model_id, "model_id"), m.step) for m in body.models]
    store_of(request).log_outputs(run_id_of(body.run_id, body.run_uuid), models)
    return empty()
