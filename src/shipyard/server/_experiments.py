"""MLflow's ``experiments/*`` routes."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import unquote, urlparse

from fastapi import APIRouter, Query, Request, Response

from shipyard import wire
from shipyard.entities import Tag, ViewType
from shipyard.errors import InvalidParameter, NotFound
from shipyard.server._http import (
    MAX_BODY_BYTES,
    FastJSONRoute,
    empty,
    json_response,
    required,
    store_of,
)
from shipyard.server._models import (
    CreateExperiment,
    DeleteExperimentTag,
    ExperimentRef,
    Int64,
    SearchExperiments,
    SetExperimentTag,
    UpdateExperiment,
    ViewTypeName,
)
from shipyard.store import TrackingStore

__all__ = ["check_artifact_location", "router"]

_MAX_LOCATION = 2048
_DEFAULT_MAX_RESULTS = 1000


def check_artifact_location(location: str) -> str:
    """Refuse locations that smuggle a path past the artifact root (MLflow's CVE history)."""
    if len(location) > _MAX_LOCATION:
        raise InvalidParameter(f"'artifact_location' is longer than {_MAX_LOCATION} characters.")
    text = location
    for _ in range(3):  # double and triple URL-encoding were real bypasses
        text = unquote(text)
    parsed = urlparse(text)
    if "\x00" in text or "#" in text or parsed.params or parsed.query:
        raise InvalidParameter("'artifact_location' can't include fragments, params or NULs.")
    if parsed.scheme == "runs" or parsed.scheme == "models":
        raise InvalidParameter(f"'artifact_location' cannot be a {parsed.scheme}:/ URI.")
    segments = text.replace("\\", "/").split("/")
    if ".." in segments:
        raise InvalidParameter("'artifact_location' can't contain '..' segments.")
    return location


def _search(
    store: TrackingStore,
    max_results: int | None,
    page_token: str | None,
    filter_string: str | None,
    order_by: list[str],
    view_type: str | None,
) -> Response:
    page = store.search_experiments(
        view_type=ViewType(view_type or "ACTIVE_ONLY"),
        max_results=_DEFAULT_MAX_RESULTS if max_results is None else max_results,
        filter_string=filter_string or None,
        order_by=order_by,
        page_token=page_token or None,
    )
    body: dict[str, object] = {"experiments": [wire.experiment_to_json(e) for e in page.items]}
    if page.next_page_token:
        body["next_page_token"] = page.next_page_token
    return json_response(body)


router = APIRouter(tags=["experiments"], route_class=FastJSONRoute, max_body_size=MAX_BODY_BYTES)


@router.post("/experiments/create")
def create_experiment(request: Request, body: CreateExperiment) -> Response:
    name = required(body.name, "name")
    location = check_artifact_location(body.artifact_location or "") or None
    exp_id = store_of(request).create_experiment(name, location, body.tags)
    return json_response({"experiment_id": exp_id})


@router.get("/experiments/get")
def get_experiment(request: Request, experiment_id: Annotated[str, Query()]) -> Response:
    exp = store_of(request).get_experiment(required(experiment_id, "experiment_id"))
    return json_response({"experiment": wire.experiment_to_json(exp)})


@router.get("/experiments/get-by-name")
def get_experiment_by_name(request: Request, experiment_name: Annotated[str, Query()]) -> Response:
    exp = store_of(request).get_experiment_by_name(required(experiment_name, "experiment_name"))
    if exp is None:
        raise NotFound(f"Could not find experiment with name '{experiment_name}'")
    return json_response({"experiment": wire.experiment_to_json(exp)})


@router.post("/experiments/search")
def search_experiments(request: Request, body: SearchExperiments) -> Response:
    return _search(
        store_of(request),
        body.max_results,
        body.page_token,
        body.filter,
        body.order_by,
        body.view_type,
    )


@router.get("/experiments/search")
def search_experiments_get(
    request: Request,
    max_results: Annotated[Int64 | None, Query()] = None,
    page_token: Annotated[str | None, Query()] = None,
    filter: Annotated[str | None, Query()] = None,  # MLflow's field name
    order_by: Annotated[list[str] | None, Query()] = None,
    view_type: Annotated[ViewTypeName | None, Query()] = None,
) -> Response:
    store = store_of(request)
    return _search(store, max_results, page_token, filter, order_by or [], view_type)


@router.post("/experiments/update")
def update_experiment(request: Request, body: UpdateExperiment) -> Response:
    exp_id = required(body.experiment_id, "experiment_id")
    store_of(request).rename_experiment(exp_id, required(body.new_name, "new_name"))
    return empty()


@router.post("/experiments/delete")
def delete_experiment(request: Request, body: ExperimentRef) -> Response:
    store_of(request).delete_experiment(required(body.experiment_id, "experiment_id"))
    return empty()


@router.post("/experiments/restore")
def restore_experiment(request: Request, body: ExperimentRef) -> Response:
    store_of(request).restore_experiment(required(body.experiment_id, "experiment_id"))
    return empty()


@router.post("/experiments/set-experiment-tag")
def set_experiment_tag(request: Request, body: SetExperimentTag) -> Response:
    exp_id = required(body.experiment_id, "experiment_id")
    store_of(request).set_experiment_tag(exp_id, Tag(required(body.key, "key"), body.value))
    return empty()


@router.post("/experiments/delete-experiment-tag")
def delete_experiment_tag(request: Request, body: DeleteExperimentTag) -> Response:
    exp_id = required(body.experiment_id, "experiment_id")
    store_of(request).delete_experiment_tag(exp_id, required(body.key, "key"))
    return empty()
