"""Request bodies for handlers that hand them to a repository running in a worker thread."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio.from_thread
import orjson
from fastapi import Request

from shipyard.errors import InvalidParameter

__all__ = ["SMALL_BODY", "BlockingBody", "read_json_object"]

_BATCH = 4 * 1024 * 1024
SMALL_BODY = 1024 * 1024  # read whole on the event loop, handed over in one thread hop


class BlockingBody(Iterator[bytes]):
    """The request body as a blocking iterator, for a repository running in a worker thread.

    Each trip to the event loop gathers the chunks of about ``_BATCH`` bytes as they came off the
    socket, so a large upload costs one thread hop per batch rather than one per socket read,
    no byte is copied in Python on the way to the file, and memory stays at one batch.
    """

    def __init__(self, stream: AsyncIterator[bytes]) -> None:
        self._stream = stream
        self._pending: deque[bytes] = deque()
        self._done = False

    def __next__(self) -> bytes:
        if not self._pending and not self._done:
            self._pending.extend(anyio.from_thread.run(self._next_batch))
            self._done = not self._pending
        if not self._pending:
            raise StopIteration
        return self._pending.popleft()

    async def _next_batch(self) -> list[bytes]:
        batch: list[bytes] = []
        size = 0
        async for chunk in self._stream:
            if chunk:
                batch.append(chunk)
                size += len(chunk)
            if size >= _BATCH:
                break
        return batch


async def read_json_object(request: Request, limit: int) -> dict[str, Any]:
    """The body as a JSON object, refused (400) past ``limit`` bytes before it is all read."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise InvalidParameter(f"The request body is larger than {limit} bytes.")
    try:
        data = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        raise InvalidParameter("Malformed JSON in the request body.") from None
    if not isinstance(data, dict):
        raise InvalidParameter("The request body must be a JSON object.")
    return data
