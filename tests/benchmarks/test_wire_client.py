"""The benchmarks' socket client (``benchmarks/_client.py``, ``Api(port, wire=True)``): the
answers ``http.client`` gets, from a real server, from chunked bodies and across a close."""

from __future__ import annotations

import json
import sys
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from _client import Api, ApiError


def _port(url: str) -> int:
    port = urllib.parse.urlsplit(url).port
    assert port is not None
    return port


def test_the_socket_client_gets_what_http_client_gets(live_server: str) -> None:
    port = _port(live_server)
    plain, wire = Api(port), Api(port, wire=True)
    try:
        exp = wire.create_experiment("wire-client")
        run_id = wire.create_run(exp, "r")
        for step in range(3):
            wire.log_metric(run_id, "m", 0.5 * step, step)
        history = {"run_id": run_id, "metric_key": "m"}
        got = wire.get("metrics/get-history", history)
        assert [(p["step"], p["value"]) for p in got["metrics"]] == [(0, 0.0), (1, 0.5), (2, 1.0)]
        assert got == plain.get("metrics/get-history", history)
        runs = {"experiment_ids": [exp], "max_results": 10}
        assert wire.post("runs/search", runs) == plain.post("runs/search", runs)
        with pytest.raises(ApiError, match=r"404.*RESOURCE_DOES_NOT_EXIST"):
            wire.get("runs/get", {"run_id": "f" * 32})
        assert wire.get("runs/get", {"run_id": run_id})["run"]["info"]["run_id"] == run_id
    finally:
        plain.close()
        wire.close()


def _odd_server() -> ASGIApp:
    """A chunked JSON answer, and one that closes the connection after it."""

    async def chunked(request: Request) -> Response:
        doc = json.dumps({"echo": json.loads(await request.body()), "pad": "x" * 5000})

        async def parts() -> Any:
            for i in range(0, len(doc), 1000):
                yield doc[i : i + 1000].encode()

        return StreamingResponse(parts(), media_type="application/json")

    async def closing(request: Request) -> Response:
        closes = {"Connection": "close"}
        return Response(b'{"bye": 1}', media_type="application/json", headers=closes)

    return Starlette(
        routes=[
            Route("/api/2.0/mlflow/chunked", chunked, methods=["POST"]),
            Route("/api/2.0/mlflow/closing", closing, methods=["GET"]),
        ]
    )


def test_chunked_answers_and_closed_connections(serve: Callable[[ASGIApp], str]) -> None:
    api = Api(_port(serve(_odd_server())), wire=True)
    try:
        got = api.post("chunked", {"a": [1, 2, 3]})
        assert got == {"echo": {"a": [1, 2, 3]}, "pad": "x" * 5000}
        assert api.get("closing", {}) == {"bye": 1}
        assert api.get("closing", {}) == {"bye": 1}  # a new connection after the close
        assert api.post("chunked", {"b": None})["echo"] == {"b": None}
    finally:
        api.close()
