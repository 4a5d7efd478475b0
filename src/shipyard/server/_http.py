"""Small response and request helpers shared by the route modules.

Responses are built as dicts and serialised with orjson straight into a ``Response``: no response
models, no second validation pass, which is most of a small request's cost in FastAPI.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request, Response

from shipyard.errors import InvalidParameter
from shipyard.store import TrackingStore

__all__ = ["empty", "json_response", "required", "run_id_of", "store_of"]

_EMPTY = b"{}"


def json_response(body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


def empty() -> Response:
    return Response(_EMPTY, media_type="application/json")


def required(value: str | None, name: str) -> str:
    """MLflow treats an absent and an empty required string alike."""
    if not value:
        raise InvalidParameter(f"Missing value for required parameter '{name}'.")
    return value


def run_id_of(run_id: str | None, run_uuid: str | None) -> str:
    """The client sends both ``run_id`` and the older ``run_uuid``; either will do."""
    return required(run_id or run_uuid, "run_id")


def store_of(request: Request) -> TrackingStore:
    """The tracking service ``create_app`` put on the app (routes stay module-level)."""
    store: TrackingStore = request.app.state.store
    return store
