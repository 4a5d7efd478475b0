"""``POST /invocations`` answered straight from ASGI, ahead of Starlette's routing.

A one-row request spends more in the web framework (a ``Request`` and a ``Response`` object,
the route table, two exception middlewares, header encoding) than in everything Shipyard does
to it apart from ``predict()``. The scoring route is the one hot path, so it reads the three
headers it needs from the ASGI scope, collects the body from ``receive`` and sends the answer
itself; every other route, and the app's lifespan, goes to Starlette unchanged. Both paths call
the same ``score``, so they answer alike.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.types import ASGIApp, Receive, Scope, Send

from shipyard._text import is_decimal
from shipyard.errors import BadRequest
from shipyard.serving._errors import PayloadTooLarge

__all__ = ["Answer", "InvocationsFastPath", "Scorer", "check_length"]


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    payload: bytes  # JSON
    request_id: str
    version: str  # the model version that answered


class Scorer(Protocol):
    async def score(
        self,
        source: str,
        request_id: str | None,
        content_type: str | None,
        read_body: Callable[[], Awaitable[bytes]],
        check: Any = None,
    ) -> Answer: ...


def check_length(length: str | None, limit: int) -> None:
    """Refuse a declared body over ``limit`` before reading any of it."""
    if length is not None and is_decimal(length) and int(length) > limit:
        raise PayloadTooLarge(f"The body is {length} bytes; this server accepts {limit}")


class InvocationsFastPath:
    """ASGI middleware: ``POST /invocations`` here, everything else to ``app``."""

    def __init__(self, app: ASGIApp, scorer: Scorer, limit: int) -> None:
        self.app = app
        self.scorer = scorer
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/invocations" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        content_type = request_id = length = None
        for key, value in scope["headers"]:
            if key == b"content-type":
                content_type = value.decode("latin-1")
            elif key == b"x-request-id":
                request_id = value.decode("latin-1")
            elif key == b"content-length":
                length = value.decode("latin-1")

        async def read_body() -> bytes:
            check_length(length, self.limit)
            return await _body(receive, self.limit)

        answer = await self.scorer.score("rest", request_id, content_type, read_body)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(answer.payload)).encode()),
            (b"x-request-id", answer.request_id.encode("latin-1", "replace")),
            (b"x-model-version", answer.version.encode("latin-1", "replace")),
        ]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.payload})


async def _body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":  # answered, though no one will read it
            raise BadRequest("The client disconnected before sending its whole body")
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"The body is over {limit} bytes, this server's limit")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)
