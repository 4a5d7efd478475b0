"""MLflow 3's ``logged-models`` routes: create, get, finalize, delete, search, tags, params and
the artifact listing of one model.

The official client's ``log_model`` creates a model here, uploads its files under the model's
``artifact_uri`` through the artifact proxy, then finalizes it; ``runs:/<run>/<name>`` URIs are
resolved by searching the run's experiment for a model of that name.
"""

from __future__ import annotations

import posixpath
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, StrictInt

from shipyard import wire
from shipyard.artifacts import normalize_artifact_path
from shipyard.entities import DatasetRef, LoggedModel, LoggedModelOrderBy, Param, Tag
from shipyard.server._artifacts import file_json, run_repository
from shipyard.server._http import (
    MAX_BODY_BYTES,
    FastJSONRoute,
    empty,
    json_response,
    required,
    store_of,
)
from shipyard.server._models import Int32

__all__ = ["router"]

router = APIRouter(tags=["logged-models"], route_class=FastJSONRoute, max_body_size=MAX_BODY_BYTES)

_DEFAULT_MAX_RESULTS = 100


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


class CreateLoggedModel(_Body):
    experiment_id: str
    name: str | None = None
    model_type: str | None = None
    source_run_id: str | None = None
    params: list[Param] = []
    tags: list[Tag] = []


class FinalizeLoggedModel(_Body):
    # A number is a protobuf JSON reader's other spelling of an enum (but true is not).
    status: StrictInt | str


class SetLoggedModelTags(_Body):
    tags: list[Tag] = []


class LogLoggedModelParams(_Body):
    params: list[Param] = []


class DatasetIn(_Body):
    dataset_name: str | None = None
    dataset_digest: str | None = None


class OrderByIn(_Body):
    field_name: str | None = None
    ascending: bool = True
    dataset_name: str | None = None
    dataset_digest: str | None = None


class SearchLoggedModels(_Body):
    experiment_ids: list[str] = []
    filter: str | None = None
    datasets: list[DatasetIn] = []
    max_results: Int32 | None = None
    order_by: list[OrderByIn] = []
    page_token: str | None = None


def _model(model: LoggedModel) -> Response:
    return json_response({"model": wire.logged_model_to_json(model)})


@router.post("/logged-models/search")
def search_logged_models(request: Request, body: SearchLoggedModels) -> Response:
    page = store_of(request).search_logged_models(
        experiment_ids=body.experiment_ids,
        filter_string=body.filter or None,
        datasets=[
            DatasetRef(d.dataset_name or "", d.dataset_digest or None) for d in body.datasets
        ],
        max_results=_DEFAULT_MAX_RESULTS if body.max_results is None else body.max_results,
        order_by=[
            LoggedModelOrderBy(
                o.field_name or "", o.ascending, o.dataset_name or None, o.dataset_digest or None
            )
            for o in body.order_by
        ],
        page_token=body.page_token or None,
    )
    out: dict[str, Any] = {"models": [wire.logged_model_to_json(m) for m in page.items]}
    if page.next_page_token:
        out["next_page_token"] = page.next_page_token
    return json_response(out)


@router.post("/logged-models")
def create_logged_model(request: Request, body: CreateLoggedModel) -> Response:
    model = store_of(request).create_logged_model(
        experiment_id=required(body.experiment_id, "experiment_id"),
        name=body.name or None,
        source_run_id=body.source_run_id or None,
        tags=body.tags,
        params=body.params,
        model_type=body.model_type or None,
    )
    return _model(model)


@router.get("/logged-models/{model_id}")
def get_logged_model(
    request: Request, model_id: str, allow_deleted: Annotated[bool, Query()] = False
) -> Response:
    return _model(store_of(request).get_logged_model(model_id, allow_deleted))


@router.patch("/logged-models/{model_id}")
def finalize_logged_model(request: Request, model_id: str, body: FinalizeLoggedModel) -> Response:
    status = wire.logged_model_status_from_json(body.status)
    return _model(store_of(request).finalize_logged_model(model_id, status))


@router.delete("/logged-models/{model_id}")
def delete_logged_model(request: Request, model_id: str) -> Response:
    store_of(request).delete_logged_model(model_id)
    return empty()


@router.patch("/logged-models/{model_id}/tags")
def set_logged_model_tags(request: Request, model_id: str, body: SetLoggedModelTags) -> Response:
    store_of(request).set_logged_model_tags(model_id, body.tags)
    return empty()


@router.delete("/logged-models/{model_id}/tags/{tag_key:path}")
def delete_logged_model_tag(request: Request, model_id: str, tag_key: str) -> Response:
    store_of(request).delete_logged_model_tag(model_id, required(tag_key, "tag_key"))
    return empty()


@router.post("/logged-models/{model_id}/params")
def log_logged_model_params(
    request: Request, model_id: str, body: LogLoggedModelParams
) -> Response:
    store_of(request).log_logged_model_params(model_id, body.params)
    return empty()


@router.get("/logged-models/{model_id}/artifacts/directories")
def list_logged_model_artifacts(
    request: Request,
    model_id: str,
    artifact_directory_path: Annotated[str | None, Query()] = None,
    page_token: Annotated[str | None, Query()] = None,
) -> Response:
    uri = store_of(request).get_logged_model(model_id).artifact_uri
    rel = normalize_artifact_path(artifact_directory_path or "")
    out: dict[str, Any] = {"root_uri": uri, "files": []}
    found = run_repository(uri, request.app.state.settings)
    if found is None:
        return json_response(out)
    repo, base = found
    folder = posixpath.join(base, rel) if base and rel else (base or rel)
    page = repo.list(folder, page_token or None)
    out["files"] = [_entry(info.path, info.is_dir, info.file_size, base) for info in page.items]
    if page.next_page_token:
        out["next_page_token"] = page.next_page_token
    return json_response(out)


def _entry(path: str, is_dir: bool, size: int | None, base: str) -> dict[str, Any]:
    rel = posixpath.relpath(path, base) if base else path
    if is_dir:
        return {"path": rel, "is_dir": True}
    return file_json(rel, size)
