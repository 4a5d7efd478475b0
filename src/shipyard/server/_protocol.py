"""uvicorn's HTTP protocol with TCP_NODELAY set on every accepted connection.

asyncio sets TCP_NODELAY itself only when the listening socket says it is TCP (``proto == 6``);
the socket uvicorn binds for multi-worker mode says ``proto == 0``, so every small response
then waits out the peer's delayed ACK (about 40 ms on Linux). Setting the option in
``connection_made`` fixes that for any worker count.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _Base
except ImportError:  # httptools is optional; h11 always ships with uvicorn
    from uvicorn.protocols.http.h11_impl import H11Protocol as _Base  # type: ignore[assignment]

__all__ = ["NoDelayHTTPProtocol", "set_nodelay"]


def set_nodelay(transport: asyncio.BaseTransport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    with contextlib.suppress(OSError):  # the peer may already be gone
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class NoDelayHTTPProtocol(_Base):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        set_nodelay(transport)
        super().connection_made(transport)
