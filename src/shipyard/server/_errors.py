"""The one place errors become responses: MLflow's JSON error body with the error's status.

``{"error_code": ..., "message": ...}`` is what MLflow's client parses into an exception and
branches on (``RESOURCE_DOES_NOT_EXIST`` from ``get-by-name`` means "create it"), so every
failure, including a body that is not JSON or an unknown path, answers in that shape. The one
exception is the plain-text 413 Starlette's body-size guard sends before any route runs.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException

from shipyard._text import is_decimal
from shipyard.errors import ShipyardError

__all__ = ["error_response", "install_error_handlers", "response_for"]

_log = logging.getLogger("shipyard.server")

_STATUS_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "ENDPOINT_NOT_FOUND",
    405: "ENDPOINT_NOT_FOUND",
    413: "BAD_REQUEST",
    415: "BAD_REQUEST",
    429: "REQUEST_LIMIT_EXCEEDED",
    503: "TEMPORARILY_UNAVAILABLE",
}


def error_response(status: int, code: str, message: str) -> Response:
    body = orjson.dumps({"error_code": code, "message": message})
    return Response(body, status_code=status, media_type="application/json")


def _field_path(loc: Sequence[Any]) -> str:
    # loc is ("body" | "query", field, index, field, ...); the first part is FastAPI's, not ours.
    parts = [str(p) for p in loc[1:]] if len(loc) > 1 else [str(p) for p in loc]
    path = ""
    for p in parts:
        path += f"[{p}]" if is_decimal(p) else (f".{p}" if path else p)
    return path


def validation_message(exc: RequestValidationError) -> str:
    """One readable sentence for the first problem, naming the field the way MLflow does."""
    errors = exc.errors()
    if not errors:
        return "Invalid request."
    first = errors[0]
    kind = first.get("type", "")
    loc = first.get("loc", ())
    if kind == "json_invalid":
        return "Malformed JSON in the request body."
    path = _field_path(loc)
    if kind == "missing":
        if path == "body":
            return "The request body must be a JSON object."
        return f"Missing value for required parameter '{path}'."
    if kind == "model_attributes_type" or (kind.endswith("_type") and path == "body"):
        return "The request body must be a JSON object sent as Content-Type: application/json."
    detail = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    return f"Invalid value for parameter '{path}': {detail}."


def _shipyard_error(exc: ShipyardError) -> Response:
    return error_response(exc.http_status, exc.code, exc.message)


def _validation_error(exc: RequestValidationError) -> Response:
    return error_response(400, "INVALID_PARAMETER_VALUE", validation_message(exc))


def _http_error(exc: HTTPException) -> Response:
    status = exc.status_code
    code = _STATUS_CODES.get(status, "INTERNAL_ERROR" if status >= 500 else "BAD_REQUEST")
    message = "Endpoint not found." if status in (404, 405) else str(exc.detail)
    return error_response(status, code, message)


def _database_busy(exc: OperationalError) -> Response:
    # A locked SQLite file or a dropped PostgreSQL connection: transient, so say so (503) and
    # let the client's retry take it, rather than a 500 that reads like a bug.
    _log.warning("database unavailable: %s", exc)
    return error_response(503, "TEMPORARILY_UNAVAILABLE", "The database is busy; retry.")


def _value_refused(exc: DataError) -> Response:
    # The database refused a value the rules let through (PostgreSQL stores no NUL in text):
    # the input is at fault, not the server. Only the driver's one-line reason goes back.
    reason = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else "invalid value"
    _log.info("value refused by the database: %s", reason)
    return error_response(
        400, "INVALID_PARAMETER_VALUE", f"A value in the request cannot be stored: {reason}"
    )


def response_for(exc: Exception) -> Response:
    """The response for any failure, the same whichever path (router or fast lane) raised it."""
    if isinstance(exc, ShipyardError):
        return _shipyard_error(exc)
    if isinstance(exc, RequestValidationError):
        return _validation_error(exc)
    if isinstance(exc, HTTPException):
        return _http_error(exc)
    if isinstance(exc, OperationalError):
        return _database_busy(exc)
    if isinstance(exc, DataError):
        return _value_refused(exc)
    _log.exception("unhandled error", exc_info=exc)
    return error_response(500, "INTERNAL_ERROR", "Internal server error.")


async def _handle(_request: Request, exc: Exception) -> Response:
    return response_for(exc)


def install_error_handlers(app: FastAPI) -> None:
    for kind in (ShipyardError, RequestValidationError, HTTPException, OperationalError, DataError):
        app.add_exception_handler(kind, _handle)
    app.add_exception_handler(Exception, _handle)
