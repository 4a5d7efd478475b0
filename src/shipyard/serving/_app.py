"""The scoring app (Starlette): MLflow's ``/invocations``, Open Inference Protocol v2, metrics.

Each request reads the served model once (``holder.current``), so an alias swap in the middle
never mixes versions; the answer names the version in ``X-Model-Version``. Small requests predict
on the event loop (a thread hop costs more than scoring a few rows); large ones on a thread.
``POST /invocations`` is answered straight from ASGI (``_fastpath``), the other routes by
Starlette; both go through ``_Scorer.score``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pandas as pd
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shipyard._version import __version__
from shipyard.errors import NotFound, ShipyardError
from shipyard.inference_log import InferenceLogWriter
from shipyard.serving._codec import (
    NumericRows,
    decode_invocation,
    encode_json,
    encode_predictions,
    model_input,
)
from shipyard.serving._config import ServingConfig
from shipyard.serving._errors import PayloadTooLarge, WebhookRejected
from shipyard.serving._fastpath import Answer, InvocationsFastPath, check_length
from shipyard.serving._oip import decode_infer, encode_infer, model_metadata
from shipyard.serving._source import Loader, Resolver, Served
from shipyard.serving._state import ServingState, build_state

__all__ = ["build_app"]

_log = logging.getLogger("shipyard.serving")
_JSON = "application/json"


def build_app(
    config: ServingConfig,
    *,
    resolver: Resolver | None = None,
    loader: Loader | None = None,
    writer: InferenceLogWriter | None = None,
) -> Starlette:
    """The scoring app for ``config`` (the model is loaded before this returns)."""
    state = build_state(config, resolver, loader, writer)
    scorer = _Scorer(state)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        for part in (state.follower, state.batcher):
            if part is not None:
                part.start()
        try:
            yield
        finally:
            for part in (state.follower, state.batcher):
                if part is not None:
                    await part.stop()
            if state.writer is not None:
                await asyncio.to_thread(state.writer.close)
            state.executor.shutdown(wait=False)

    routes = [
        Route("/invocations", scorer.invocations, methods=["POST"]),
        Route("/ping", _ok, methods=["GET"]),
        Route("/health", _ok, methods=["GET"]),
        Route("/version", _version, methods=["GET"]),
        Route("/metrics", scorer.metrics, methods=["GET"]),
        Route("/-/registry-webhook", scorer.webhook, methods=["POST"]),
        Route("/v2", scorer.server_metadata, methods=["GET"]),
        Route("/v2/health/live", _live, methods=["GET"]),
        Route("/v2/health/ready", _ready, methods=["GET"]),
        Route("/v2/models/{name}", scorer.model_metadata, methods=["GET"]),
        Route("/v2/models/{name}/versions/{version}", scorer.model_metadata, methods=["GET"]),
        Route("/v2/models/{name}/ready", scorer.model_ready, methods=["GET"]),
        Route("/v2/models/{name}/versions/{version}/ready", scorer.model_ready, methods=["GET"]),
        Route("/v2/models/{name}/infer", scorer.infer, methods=["POST"]),
        Route("/v2/models/{name}/versions/{version}/infer", scorer.infer, methods=["POST"]),
    ]
    fast = Middleware(InvocationsFastPath, scorer=scorer, limit=config.max_body_bytes)
    app = Starlette(routes=routes, middleware=[fast], lifespan=lifespan)
    app.state.serving = state
    return app


async def _ok(request: Request) -> Response:
    return Response(b"\n", media_type="text/plain")


async def _version(request: Request) -> Response:
    return Response(__version__, media_type="text/plain")


async def _live(request: Request) -> Response:
    return Response(b'{"live":true}', media_type=_JSON)


async def _ready(request: Request) -> Response:
    return Response(b'{"ready":true}', media_type=_JSON)


class _RequestIds:
    """Request ids unique across processes and restarts without a uuid4 per request: a random
    prefix per process, then a counter (a third of the cost)."""

    def __init__(self) -> None:
        self._prefix = uuid.uuid4().hex[:16]
        self._count = itertools.count(1)

    def next(self) -> str:
        return f"{self._prefix}{next(self._count):016x}"


class _Scorer:
    def __init__(self, state: ServingState) -> None:
        self.state = state
        self.config = state.config
        self._ids = _RequestIds()

    # -- MLflow protocol ------------------------------------------------------------------------
    async def invocations(self, request: Request) -> Response:
        return await self._score(request, "rest")

    async def infer(self, request: Request) -> Response:
        return await self._score(request, "oip")

    async def _score(self, request: Request, source: str) -> Response:
        def check(served: Served) -> None:
            _check_model(request, served)

        answer = await self.score(
            source,
            request.headers.get("x-request-id"),
            request.headers.get("content-type"),
            lambda: self._body(request),
            check if source == "oip" else None,
        )
        headers = {"x-request-id": answer.request_id, "x-model-version": answer.version}
        return Response(answer.payload, answer.status, headers, media_type=_JSON)

    async def score(
        self,
        source: str,
        request_id: str | None,
        content_type: str | None,
        read_body: Callable[[], Awaitable[bytes]],
        check: Callable[[Served], None] | None = None,
    ) -> Answer:
        """One scoring request, whatever carried it (Starlette, or the ASGI fast path)."""
        started = time.perf_counter()
        request_id = request_id or self._ids.next()
        served = self.state.holder.current
        data: Any = None
        predictions: Any = None
        status, error, code = 200, None, "INTERNAL_ERROR"
        try:
            if check is not None:
                check(served)
            body = await read_body()
            if source == "oip":
                data, params, body_id = decode_infer(body, served)
                predictions = await self._predict(served, data, params)
                payload = encode_json(encode_infer(predictions, served, body_id))
            else:
                data, params = decode_invocation(body, content_type, served)
                if not self._batched(data, params):
                    data = model_input(data)  # once, for predict() and the log
                predictions = await self._predict(served, data, params)
                payload = encode_predictions(predictions)
        except ShipyardError as exc:
            status, error, code = exc.http_status, exc.message, exc.code
        except Exception as exc:  # a model that raises: a 500 naming the request, not a crash
            status, error = 500, f"The model failed to predict: {type(exc).__name__}: {exc}"
            _log.exception("request %s: prediction failed", request_id)
        if error is not None:
            predictions = None
            body_out: dict[str, Any]
            if source == "oip":
                body_out = {"error": error, "id": request_id}
            else:
                body_out = {"error_code": code, "message": error, "request_id": request_id}
            payload = encode_json(body_out)
        seconds = time.perf_counter() - started
        rows = _rows(data)
        self.state.metrics.observe(source, status, seconds, rows)
        if self.state.writer is not None:
            self._log(served, source, request_id, data, predictions, seconds, error)
        return Answer(status, payload, request_id, served.version)

    def _batched(self, data: Any, params: dict[str, Any] | None) -> bool:
        """One row without params goes through the micro-batcher, when it is on."""
        if self.state.batcher is None or params is not None:
            return False
        return isinstance(data, NumericRows | pd.DataFrame) and len(data) == 1

    async def _predict(self, served: Served, data: Any, params: dict[str, Any] | None) -> Any:
        if self.state.batcher is not None and self._batched(data, params):
            return await self.state.batcher.predict(served, data)
        data = model_input(data)
        if _rows(data) <= self.config.inline_rows:
            return served.model.predict(data, params)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.state.executor, served.model.predict, data, params)

    async def _body(self, request: Request) -> bytes:
        limit = self.config.max_body_bytes
        check_length(request.headers.get("content-length"), limit)
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"The body is over {limit} bytes, this server's limit")
            chunks.append(chunk)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def _log(
        self,
        served: Served,
        source: str,
        request_id: str,
        data: Any,
        predictions: Any,
        seconds: float,
        error: str | None,
    ) -> None:
        assert self.state.writer is not None
        self.state.writer.log(
            model_name=served.name,
            model_version=served.version,
            source=source,
            request_id=request_id,
            inputs=model_input(data),
            outputs=predictions,
            latency_ms=seconds * 1000,
            rows=max(1, _rows(data)),
            status="ok" if error is None else "error",
            error=error,
            proba=served.proba if self.config.log_probabilities and error is None else None,
        )

    # -- Open Inference Protocol metadata -------------------------------------------------------
    async def server_metadata(self, request: Request) -> Response:
        body = {"name": "shipyard", "version": __version__, "extensions": []}
        return Response(encode_json(body), media_type=_JSON)

    async def model_metadata(self, request: Request) -> Response:
        served = self.state.holder.current
        try:
            _check_model(request, served)
        except NotFound as exc:
            return Response(encode_json({"error": exc.message}), 404, media_type=_JSON)
        return Response(encode_json(model_metadata(served)), media_type=_JSON)

    async def model_ready(self, request: Request) -> Response:
        served = self.state.holder.current
        try:
            _check_model(request, served)
        except NotFound as exc:
            return Response(encode_json({"error": exc.message}), 404, media_type=_JSON)
        return Response(encode_json({"name": served.name, "ready": True}), media_type=_JSON)

    # -- operations -----------------------------------------------------------------------------
    async def metrics(self, request: Request) -> Response:
        return Response(
            generate_latest(self.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
        )

    async def webhook(self, request: Request) -> Response:
        """A registry event: check the alias now instead of at the next poll."""
        try:
            body = await self._body(request)
            _verify(self.config.webhook_secret, body, request.headers.get("x-shipyard-signature"))
        except ShipyardError as exc:
            body_out = {"error_code": exc.code, "message": exc.message}
            return Response(encode_json(body_out), exc.http_status, media_type=_JSON)
        follower = self.state.follower
        if follower is not None:
            follower.trigger()
        answer = {"triggered": follower is not None, "serving": self.state.holder.current.version}
        return Response(encode_json(answer), 202, media_type=_JSON)


def _verify(secret: str | None, body: bytes, header: str | None) -> None:
    if not secret:
        raise WebhookRejected("Registry webhooks are off: start the server with a webhook secret")
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if header is None or not hmac.compare_digest(expected, header.strip()):
        raise WebhookRejected("X-Shipyard-Signature does not match the body (HMAC-SHA256)")


def _check_model(request: Request, served: Served) -> None:
    name = request.path_params.get("name")
    version = request.path_params.get("version")
    if name != served.name:
        raise NotFound(f"This server serves model {served.name!r}, not {name!r}")
    if version is not None and version != served.version:
        raise NotFound(f"This server serves version {served.version} of {name!r}, not {version}")


def _rows(data: Any) -> int:
    if data is None:
        return 0
    if isinstance(data, dict):
        first = next(iter(data.values()), None)
        return len(first) if first is not None and hasattr(first, "__len__") else 1
    try:
        return len(data)
    except TypeError:
        return 1
