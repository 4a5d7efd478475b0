"""MLflow's model-registry routes: ``registered-models/*`` and ``model-versions/*``.

Who made a change is the client's declared user: Shipyard's SDK sends ``X-Shipyard-User`` (and
``X-Shipyard-Reason``, percent-encoded), MLflow's client may send a basic-auth user name; with
neither, the actor is ``anonymous``. No identity is verified yet (see docs/registry.md).
Bodies of DELETE requests may also arrive as query parameters; both are read.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool

from shipyard.entities import Tag
from shipyard.errors import InvalidParameter
from shipyard.registry import RegistryService
from shipyard.server._http import MAX_BODY_BYTES, FastJSONRoute, empty, json_response, required
from shipyard.server._models import Int64
from shipyard.store._protocol import Page
from shipyard.store._registry import Change
from shipyard.wire_registry import model_version_to_json, registered_model_to_json

__all__ = ["change_of", "registry_of", "router", "written"]

router = APIRouter(tags=["registry"], route_class=FastJSONRoute, max_body_size=MAX_BODY_BYTES)

_MODELS_DEFAULT_RESULTS = 100
_VERSIONS_DEFAULT_RESULTS = 10_000


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


class CreateRegisteredModel(_Body):
    name: str | None = None
    tags: list[Tag] = []
    description: str | None = None


class RenameRegisteredModel(_Body):
    name: str | None = None
    new_name: str | None = None


class UpdateRegisteredModel(_Body):
    name: str | None = None
    description: str | None = None


class ModelRef(_Body):
    name: str | None = None


class ModelTag(_Body):
    name: str | None = None
    key: str | None = None
    value: str | None = None


class LatestVersions(_Body):
    name: str | None = None
    stages: list[str] = []


class AliasBody(_Body):
    name: str | None = None
    alias: str | None = None
    version: str | None = None


class CreateModelVersion(_Body):
    name: str | None = None
    source: str | None = None
    run_id: str | None = None
    tags: list[Tag] = []
    run_link: str | None = None
    description: str | None = None
    model_id: str | None = None


class VersionRef(_Body):
    name: str | None = None
    version: str | None = None


class UpdateModelVersion(VersionRef):
    description: str | None = None


class TransitionStage(VersionRef):
    stage: str | None = None
    archive_existing_versions: bool = False


class VersionTag(VersionRef):
    key: str | None = None
    value: str | None = None


def registry_of(request: Request) -> RegistryService:
    service: RegistryService = request.app.state.registry
    return service


def _basic_user(header: str | None) -> str | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip()).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return None
    return decoded.partition(":")[0] or None


def change_of(request: Request) -> Change:
    """The declared actor and reason of a request (see the module docstring)."""
    headers = request.headers
    actor = headers.get("x-shipyard-user") or _basic_user(headers.get("authorization"))
    reason = headers.get("x-shipyard-reason")
    return Change(
        actor=unquote(actor)[:256] if actor else "anonymous",
        reason=unquote(reason) if reason else None,
    )


def written(request: Request) -> None:
    """Wake the webhook dispatcher after a write (it also polls on its own)."""
    dispatcher = getattr(request.app.state, "dispatcher", None)
    if dispatcher is not None:
        dispatcher.nudge()


async def _fields(request: Request) -> dict[str, Any]:
    """A DELETE's fields: the JSON body if there is one, else the query string."""
    body = await request.body()
    if body.strip():
        try:
            data = await request.json()
        except ValueError:  # JSONDecodeError, or bytes that are not UTF-8
            raise InvalidParameter("The request body is not valid JSON.") from None
        if not isinstance(data, dict):
            raise InvalidParameter("The request body must be a JSON object.")
        return {k: v for k, v in data.items() if v is not None}
    return dict(request.query_params)


def _str_field(fields: dict[str, Any], name: str) -> str:
    value = fields.get(name)
    return required(None if value is None else str(value), name)


def _tags(tags: list[Tag]) -> dict[str, str]:
    return {t.key: t.value for t in tags}


def _page(key: str, items: list[dict[str, Any]], page: Page[Any]) -> Response:
    body: dict[str, Any] = {key: items}
    if page.next_page_token:
        body["next_page_token"] = page.next_page_token
    return json_response(body)


def _model(request: Request, name: str) -> Response:
    rm = registry_of(request).get_registered_model(name)
    return json_response({"registered_model": registered_model_to_json(rm)})


# -- registered models ------------------------------------------------------------------------
@router.post("/registered-models/create")
def create_registered_model(request: Request, body: CreateRegisteredModel) -> Response:
    rm = registry_of(request).create_registered_model(
        required(body.name, "name"), change_of(request), _tags(body.tags), body.description
    )
    written(request)
    return json_response({"registered_model": registered_model_to_json(rm)})


@router.get("/registered-models/get")
def get_registered_model(request: Request, name: Annotated[str, Query()] = "") -> Response:
    return _model(request, required(name, "name"))


@router.post("/registered-models/rename")
def rename_registered_model(request: Request, body: RenameRegisteredModel) -> Response:
    rm = registry_of(request).rename_registered_model(
        required(body.name, "name"), required(body.new_name, "new_name"), change_of(request)
    )
    written(request)
    return json_response({"registered_model": registered_model_to_json(rm)})


@router.patch("/registered-models/update")
def update_registered_model(request: Request, body: UpdateRegisteredModel) -> Response:
    rm = registry_of(request).update_registered_model(
        required(body.name, "name"), body.description, change_of(request)
    )
    written(request)
    return json_response({"registered_model": registered_model_to_json(rm)})


@router.delete("/registered-models/delete")
async def delete_registered_model(request: Request) -> Response:
    fields = await _fields(request)
    await run_in_threadpool(
        registry_of(request).delete_registered_model,
        _str_field(fields, "name"),
        change_of(request),
    )
    written(request)
    return empty()


@router.get("/registered-models/search")
def search_registered_models(
    request: Request,
    filter: Annotated[str | None, Query()] = None,
    max_results: Annotated[Int64 | None, Query()] = None,
    order_by: Annotated[list[str] | None, Query()] = None,
    page_token: Annotated[str | None, Query()] = None,
) -> Response:
    page = registry_of(request).search_registered_models(
        filter or None,
        _MODELS_DEFAULT_RESULTS if max_results is None else max_results,
        order_by or [],
        page_token or None,
    )
    return _page("registered_models", [registered_model_to_json(m) for m in page.items], page)


def _latest(request: Request, name: str | None, stages: list[str]) -> Response:
    versions = registry_of(request).get_latest_versions(required(name, "name"), stages)
    return json_response({"model_versions": [model_version_to_json(v) for v in versions]})


@router.post("/registered-models/get-latest-versions")
def get_latest_versions(request: Request, body: LatestVersions) -> Response:
    return _latest(request, body.name, body.stages)


@router.get("/registered-models/get-latest-versions")
def get_latest_versions_get(
    request: Request,
    name: Annotated[str, Query()] = "",
    stages: Annotated[list[str] | None, Query()] = None,
) -> Response:
    return _latest(request, name, stages or [])


@router.post("/registered-models/set-tag")
def set_registered_model_tag(request: Request, body: ModelTag) -> Response:
    registry_of(request).set_registered_model_tag(
        required(body.name, "name"), required(body.key, "key"), body.value or "", change_of(request)
    )
    written(request)
    return empty()


@router.delete("/registered-models/delete-tag")
async def delete_registered_model_tag(request: Request) -> Response:
    fields = await _fields(request)
    await run_in_threadpool(
        registry_of(request).delete_registered_model_tag,
        _str_field(fields, "name"),
        _str_field(fields, "key"),
        change_of(request),
    )
    written(request)
    return empty()


# -- aliases ----------------------------------------------------------------------------------
@router.post("/registered-models/alias")
def set_alias(request: Request, body: AliasBody) -> Response:
    registry_of(request).set_registered_model_alias(
        required(body.name, "name"),
        required(body.alias, "alias"),
        required(body.version, "version"),
        change_of(request),
    )
    written(request)
    return empty()


@router.delete("/registered-models/alias")
async def delete_alias(request: Request) -> Response:
    fields = await _fields(request)
    await run_in_threadpool(
        registry_of(request).delete_registered_model_alias,
        _str_field(fields, "name"),
        _str_field(fields, "alias"),
        change_of(request),
    )
    written(request)
    return empty()


@router.get("/registered-models/alias")
def get_alias(
    request: Request,
    name: Annotated[str, Query()] = "",
    alias: Annotated[str, Query()] = "",
) -> Response:
    mv = registry_of(request).get_model_version_by_alias(
        required(name, "name"), required(alias, "alias")
    )
    return json_response({"model_version": model_version_to_json(mv)})


# -- model versions ---------------------------------------------------------------------------
@router.post("/model-versions/create")
def create_model_version(request: Request, body: CreateModelVersion) -> Response:
    mv = registry_of(request).create_model_version(
        required(body.name, "name"),
        required(body.source, "source"),
        change_of(request),
        run_id=body.run_id or None,
        tags=_tags(body.tags),
        run_link=body.run_link or None,
        description=body.description,
        model_id=body.model_id or None,
    )
    written(request)
    return json_response({"model_version": model_version_to_json(mv)})


@router.get("/model-versions/get")
def get_model_version(
    request: Request,
    name: Annotated[str, Query()] = "",
    version: Annotated[str, Query()] = "",
) -> Response:
    mv = registry_of(request).get_model_version(
        required(name, "name"), required(version, "version")
    )
    return json_response({"model_version": model_version_to_json(mv)})


@router.patch("/model-versions/update")
def update_model_version(request: Request, body: UpdateModelVersion) -> Response:
    mv = registry_of(request).update_model_version(
        required(body.name, "name"),
        required(body.version, "version"),
        body.description,
        change_of(request),
    )
    written(request)
    return json_response({"model_version": model_version_to_json(mv)})


@router.delete("/model-versions/delete")
async def delete_model_version(request: Request) -> Response:
    fields = await _fields(request)
    await run_in_threadpool(
        registry_of(request).delete_model_version,
        _str_field(fields, "name"),
        _str_field(fields, "version"),
        change_of(request),
    )
    written(request)
    return empty()


@router.post("/model-versions/transition-stage")
def transition_stage(request: Request, body: TransitionStage) -> Response:
    mv = registry_of(request).transition_model_version_stage(
        required(body.name, "name"),
        required(body.version, "version"),
        required(body.stage, "stage"),
        body.archive_existing_versions,
        change_of(request),
    )
    written(request)
    return json_response({"model_version": model_version_to_json(mv)})


@router.get("/model-versions/search")
def search_model_versions(
    request: Request,
    filter: Annotated[str | None, Query()] = None,
    max_results: Annotated[Int64 | None, Query()] = None,
    order_by: Annotated[list[str] | None, Query()] = None,
    page_token: Annotated[str | None, Query()] = None,
) -> Response:
    page = registry_of(request).search_model_versions(
        filter or None,
        _VERSIONS_DEFAULT_RESULTS if max_results is None else max_results,
        order_by or [],
        page_token or None,
    )
    return _page("model_versions", [model_version_to_json(v) for v in page.items], page)


@router.get("/model-versions/get-download-uri")
def get_download_uri(
    request: Request,
    name: Annotated[str, Query()] = "",
    version: Annotated[str, Query()] = "",
) -> Response:
    uri = registry_of(request).get_model_version_download_uri(
        required(name, "name"), required(version, "version")
    )
    return json_response({"artifact_uri": uri})


@router.post("/model-versions/set-tag")
def set_model_version_tag(request: Request, body: VersionTag) -> Response:
    registry_of(request).set_model_version_tag(
        required(body.name, "name"),
        required(body.version, "version"),
        required(body.key, "key"),
        body.value or "",
        change_of(request),
    )
    written(request)
    return empty()


@router.delete("/model-versions/delete-tag")
async def delete_model_version_tag(request: Request) -> Response:
    fields = await _fields(request)
    await run_in_threadpool(
        registry_of(request).delete_model_version_tag,
        _str_field(fields, "name"),
        _str_field(fields, "version"),
        _str_field(fields, "key"),
        change_of(request),
    )
    written(request)
    return empty()
