"""Request bodies for handlers that hand them to a repository running in a worker thread."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio.from_thread
import orjson
from fastapi import Request

from shipyard.errors import InvalidParameter

__all__ = ["SMALL_BODY", "BlockingBody", "read_json_object"]

_UPLOAD_BLOCK = 1024 * 1024
SMALL_BODY = _UPLOAD_BLOCK  # read whole on the event loop: smaller than one streamed block


class BlockingBody(Iterator[bytes]):
    """The request body as a blocking iterator, for a repository running in a worker thread.

    Each ``next`` hops to the event loop and gathers about a megabyte, so a large upload costs
    one thread hop per block rather than one per socket read, and memory stays at one block.
    """

    def __init__(self, stream: AsyncIterator[bytes]) -> None:
        self._stream = stream
        self._done = False

    def __next__(self) -> bytes:
        block = b"" if self._done else anyio.from_thread.run(self._next_block)
        if not block:
            self._done = True
            raise StopIteration
        return block

    async def _next_block(self) -> bytes:
        buffer = bytearray()
        async for chunk in self._stream:
            buffer += chunk
            if len(buffer) >= _UPLOAD_BLOCK:
                break
        return bytes(buffer)


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
