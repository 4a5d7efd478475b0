"""Keyset page tokens for artifact listings, shared by every repository.

A token names the last entry a page returned; the next page starts after it, so files written
between two calls shift nothing. The token is opaque base64 to clients and checked on the way in.
"""

from __future__ import annotations

import base64
import binascii
import json

from shipyard.errors import InvalidParameter

__all__ = ["decode_after_token", "encode_after_token"]


def encode_after_token(last: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": last}).encode()).decode("ascii")


def decode_after_token(token: str | None) -> str:
    """The name to start after; ``""`` for the first page."""
    if not token:
        return ""
    try:
        payload = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError):
        payload = None
    if not isinstance(payload, dict) or not isinstance(payload.get("after"), str):
        raise InvalidParameter(f"Invalid page token {token[:100]!r}")
    after: str = payload["after"]
    return after
