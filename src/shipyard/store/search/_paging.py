"""Opaque page tokens for paginated searches.

The token is base64 of ``{"offset": N}``, byte for byte what MLflow hands out, so a client that
pages through an MLflow server and then through Shipyard (or caches a token) sees no difference.
"""

from __future__ import annotations

import base64
import binascii
import json

from shipyard.errors import InvalidParameter
from shipyard.store.search._lexer import shorten

__all__ = ["decode_page_token", "encode_page_token"]


def encode_page_token(offset: int) -> str:
    """Return the token for the page that starts at row ``offset``."""
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValueError(f"a page offset must be a non-negative int, not {offset!r}")
    return base64.b64encode(json.dumps({"offset": offset}).encode("utf-8")).decode("ascii")


def decode_page_token(token: str | None) -> int:
    """Return the offset a token stands for; no token means the first page."""
    if not token:
        return 0
    offset = _offset(token)
    if offset is None:
        raise InvalidParameter(f"Invalid page token '{shorten(token)}'")
    return offset


def _offset(token: str) -> int | None:
    """The token's offset, or None for anything we did not issue."""
    try:
        payload = json.loads(base64.b64decode(token, validate=True).decode("utf-8"))
    except (ValueError, binascii.Error, RecursionError):  # bad base64, UTF-8 or JSON
        return None
    if not isinstance(payload, dict):
        return None
    offset = payload.get("offset")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        return None
    return offset
