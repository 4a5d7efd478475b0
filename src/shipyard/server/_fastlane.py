"""A short path for the hot JSON routes: the same endpoint functions, without FastAPI's per-request
machinery.

A one-metric ``runs/log-metric`` spends ~0.15 ms in the store and, through FastAPI, ~0.45 ms more
in middleware, matching ~80 routes by regular expression, dependency solving and its thread hop.
``FastLane`` sits in front of the router: for a POST to one of the paths it was given, with a JSON
content type, it reads the body (refusing it past the size limit), validates it into the
endpoint's own body model and calls the endpoint directly; everything else, and every request
with another content type, goes to the app unchanged. Errors become the responses the app's
handlers give (``response_for``), so a client cannot tell which path answered.

Only endpoints shaped ``def endpoint(request: Request, body: SomeModel) -> Response`` qualify;
``lane_routes`` picks them from routers, so a route is written once and served by both paths.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, APIRouter
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from shipyard.server._errors import response_for
from shipyard.server._http import loads
from shipyard.store.sql import run_on_loop

__all__ = ["FastLane", "LaneRoute", "QuickMode", "lane_routes", "quick"]


F = TypeVar("F", bound=Callable[..., Any])


QuickMode = Literal["inline", "loop", "thread"]


def quick(endpoint: F) -> F:
    """Mark a route as a call to the tracking store alone (a write to one run, a run search),
    which the lane runs on the event loop.

    The hop to a worker thread and back costs ~0.1-0.2 ms, as much as a write. On SQLite
    (``inline``) a write holds the database's lock for microseconds and a read never waits for
    a writer (WAL). On PostgreSQL (``loop``) the endpoint runs through ``run_on_loop``: the
    store's statements are awaited on the loop (``LoopEngine``), so one worker's requests still
    overlap while the database works. Without that (``thread``) quick routes take the hop like
    any other. A route that reaches another store (the registry's) must not be marked: its
    round trips would hold the loop.
    """
    setattr(endpoint, "_shipyard_quick", True)  # noqa: B010 - mypy: functions take attributes
    return endpoint


@dataclass(frozen=True)
class LaneRoute:
    endpoint: Callable[[Request, Any], Response]
    model: type[BaseModel]
    quick: bool


def _body_model(endpoint: Callable[..., Any]) -> type[BaseModel] | None:
    if inspect.iscoroutinefunction(endpoint):
        return None
    hints = typing.get_type_hints(endpoint)
    names = [n for n in hints if n != "return"]
    if names != ["request", "body"] or hints["request"] is not Request:
        return None
    model = hints["body"]
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def lane_routes(prefixes: Iterable[str], routers: Iterable[APIRouter]) -> dict[str, LaneRoute]:
    """Every POST route of ``routers`` shaped ``(request, body: Model)``, under each prefix."""
    table: dict[str, LaneRoute] = {}
    for router in routers:
        for route in router.routes:
            if not isinstance(route, APIRoute) or route.methods != {"POST"}:
                continue
            model = _body_model(route.endpoint)
            if model is not None:
                for prefix in prefixes:
                    is_quick = getattr(route.endpoint, "_shipyard_quick", False)
                    table[prefix + route.path] = LaneRoute(route.endpoint, model, is_quick)
    return table


def _is_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return bool(value.split(b";", 1)[0].strip().lower() == b"application/json")
    return False


def _missing_body() -> RequestValidationError:
    return RequestValidationError(
        [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
    )


def _as_request_error(exc: ValidationError) -> RequestValidationError:
    errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
    return RequestValidationError(errors)


def _parse(body: bytes) -> Any:
    try:
        return loads(body)
    except ValueError:  # json.JSONDecodeError, or bytes that are not UTF-8
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body", 0), "msg": "JSON decode error"}]
        ) from None


class FastLane:
    """ASGI middleware serving ``routes`` (path -> endpoint) directly; see the module docstring."""

    def __init__(
        self, app: ASGIApp, routes: dict[str, LaneRoute], max_body: int, quick_mode: QuickMode
    ) -> None:
        self.app = app
        self.routes = routes
        self.max_body = max_body
        self.quick_mode = quick_mode

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = None
        if scope["type"] == "http" and scope["method"] == "POST":
            route = self.routes.get(scope["path"])
        if route is None or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        body = await self._read(receive)
        if body is None:
            response = Response(b"Request body too large", status_code=413, media_type="text/plain")
        else:
            response = await self._answer(route, Request(scope, receive), body)
        await response(scope, receive, send)

    async def _read(self, receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return b""
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _answer(self, route: LaneRoute, request: Request, body: bytes) -> Response:
        try:
            if not body:
                raise _missing_body()
            try:
                model = route.model.model_validate(_parse(body))
            except ValidationError as exc:
                raise _as_request_error(exc) from None
            if route.quick and self.quick_mode == "inline":
                return route.endpoint(request, model)
            if route.quick and self.quick_mode == "loop":
                return await run_on_loop(route.endpoint, request, model)
            return await run_in_threadpool(route.endpoint, request, model)
        except Exception as exc:  # every failure answers in MLflow's error shape
            return response_for(exc)
