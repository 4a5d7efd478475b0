"""MLflow's ``metrics/*`` routes: one run's history, and the UI's multi-run views (whole, and
sampled by step)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from shipyard import wire
from shipyard.entities import Metric
from shipyard.errors import InvalidParameter
from shipyard.server._http import (
    MAX_BODY_BYTES,
    FastJSONRoute,
    json_response,
    required,
    run_id_of,
    store_of,
)
from shipyard.server._models import Int32, Int64

__all__ = ["router", "sample_steps"]

router = APIRouter(tags=["metrics"], route_class=FastJSONRoute, max_body_size=MAX_BODY_BYTES)

_MAX_BULK_RUNS = 100
_MAX_BULK_RESULTS = 2500
_MAX_BULK_POINTS = 25_000  # get-history-bulk without max_results


@router.get("/metrics/get-history")
def get_metric_history(
    request: Request,
    metric_key: Annotated[str, Query()],
    run_id: Annotated[str | None, Query()] = None,
    run_uuid: Annotated[str | None, Query()] = None,
    page_token: Annotated[str | None, Query()] = None,
    max_results: Annotated[Int64 | None, Query()] = None,
) -> Response:
    page = store_of(request).get_metric_history_json(
        run_id_of(run_id, run_uuid),
        required(metric_key, "metric_key"),
        max_results=max_results,
        page_token=page_token or None,
    )
    out: dict[str, Any] = {"metrics": page.items}
    if page.next_page_token:
        out["next_page_token"] = page.next_page_token
    return json_response(out)


def _bulk_run_ids(ids: list[str] | None, missing: str, too_many: str) -> list[str]:
    """A bulk route's run ids: at least one, at most ``_MAX_BULK_RUNS``; the messages are each
    route's own on MLflow's server (``too_many`` formatted with ``most`` and ``given``)."""
    if not ids:
        raise InvalidParameter(missing)
    if len(ids) > _MAX_BULK_RUNS:
        raise InvalidParameter(too_many.format(most=_MAX_BULK_RUNS, given=len(ids)))
    return ids


@router.get("/metrics/get-history-bulk")
def get_metric_history_bulk(
    request: Request,
    metric_key: Annotated[str | None, Query()] = None,
    run_id: Annotated[list[str] | None, Query()] = None,
    max_results: Annotated[Int64 | None, Query()] = None,
) -> Response:
    """One metric's history for several runs, each run's points in history order, the runs in
    id order, at most ``max_results`` points in all (the UI's route, as MLflow's)."""
    ids = _bulk_run_ids(
        run_id,
        "GetMetricHistoryBulk request must specify at least one run_id.",
        "GetMetricHistoryBulk request cannot specify more than {most} run_ids. "
        "Received {given} run_ids.",
    )
    if not metric_key:
        raise InvalidParameter("GetMetricHistoryBulk request must specify a metric_key.")
    room = _MAX_BULK_POINTS if max_results is None else max(max_results, 0)
    out: list[dict[str, Any]] = []
    for one in sorted(ids):  # MLflow's server answers the runs in id order
        if len(out) >= room:
            break
        page = store_of(request).get_metric_history_json(one, metric_key, max_results=room)
        out += [{**point, "run_id": one} for point in page.items[: room - len(out)]]
    return json_response({"metrics": out})


def sample_steps(steps: Sequence[int], max_results: int) -> set[int]:
    """At most ``max_results`` steps spread evenly, always keeping the first and the last."""
    if len(steps) <= max_results:
        return set(steps)
    if max_results == 1:
        return {steps[-1]}
    last = len(steps) - 1
    return {steps[round(i * last / (max_results - 1))] for i in range(max_results)}


def _check_range(start_step: int | None, end_step: int | None) -> None:
    if (start_step is None) != (end_step is None):
        raise InvalidParameter(
            "If either start step or end step are specified, both must be specified."
        )
    if start_step is not None and end_step is not None and start_step > end_step:
        raise InvalidParameter(
            "end_step must be greater than start_step. "
            f"Found start_step={start_step} and end_step={end_step}."
        )


def _in_range(m: Metric, start_step: int | None, end_step: int | None) -> bool:
    return start_step is None or end_step is None or start_step <= m.step <= end_step


@router.get("/metrics/get-history-bulk-interval")
def get_metric_history_bulk_interval(
    request: Request,
    metric_key: Annotated[str, Query()],
    run_ids: Annotated[list[str] | None, Query()] = None,
    start_step: Annotated[Int32 | None, Query()] = None,
    end_step: Annotated[Int32 | None, Query()] = None,
    max_results: Annotated[Int32 | None, Query()] = None,
) -> Response:
    ids = _bulk_run_ids(
        run_ids,
        "Missing value for required parameter 'run_ids'.",
        "GetMetricHistoryBulkInterval request must specify at most {most} run_ids. "
        "Received {given} run_ids.",
    )
    limit = _MAX_BULK_RESULTS if max_results is None else max_results
    if not 1 <= limit <= _MAX_BULK_RESULTS:
        raise InvalidParameter(f"max_results must be between 1 and {_MAX_BULK_RESULTS}.")
    _check_range(start_step, end_step)
    key = required(metric_key, "metric_key")
    out: list[dict[str, Any]] = []
    for run_id in ids:
        points = [
            m
            for m in store_of(request).get_metric_history(run_id, key).items
            if _in_range(m, start_step, end_step)
        ]
        keep = sample_steps(sorted({m.step for m in points}), limit)
        for m in sorted(points, key=lambda p: (p.step, p.timestamp)):
            if m.step in keep:
                out.append({**wire.metric_to_json(m), "run_id": run_id})
    return json_response({"metrics": out})
