"""Opaque page tokens for paginated searches.

The token is base64 of ``{"offset": N}``, byte for byte what MLflow hands out, so a client that
pages through an MLflow server and then through Shipyard (or caches a token) sees no difference.
A metric history token carries, besides the offset, the sort key of the page's last point
(``"after": [timestamp, step, value, is_nan]``, the history's primary key after run and key):
the next page starts from there in the index instead of skipping ``offset`` points, and points
logged meanwhile do not shift it. A token without ``after`` (MLflow's) still pages by offset.
"""

from __future__ import annotations

import base64
import binascii
import json

from shipyard.errors import InvalidParameter
from shipyard.store.search._lexer import shorten

__all__ = [
    "HistoryCursor",
    "decode_history_token",
    "decode_page_token",
    "encode_history_token",
    "encode_page_token",
]

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

# (timestamp, step, stored value, is_nan) of a metric history's last point on a page: its sort
# key (a NaN is stored as 0.0 with is_nan set, so it and a real 0.0 differ only there).
HistoryCursor = tuple[int, int, float, bool]


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


def encode_history_token(offset: int, after: HistoryCursor) -> str:
    """The token for the history page at ``offset`` that follows the point ``after``."""
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValueError(f"a page offset must be a non-negative int, not {offset!r}")
    payload = {"offset": offset, "after": list(after)}
    return base64.b64encode(json.dumps(payload).encode("utf-8")).decode("ascii")


def decode_history_token(token: str | None) -> tuple[int, HistoryCursor | None]:
    """The offset and, for a token Shipyard issued, the last point's sort key."""
    if not token:
        return 0, None
    payload = _payload(token)
    offset = None if payload is None else _offset_in(payload)
    if payload is None or offset is None:
        raise InvalidParameter(f"Invalid page token '{shorten(token)}'")
    after = payload.get("after")
    if after is None:
        return offset, None
    if (
        isinstance(after, list)
        and len(after) == 4
        and all(type(v) is int and _INT64_MIN <= v <= _INT64_MAX for v in after[:2])
        and (type(after[2]) is float or (type(after[2]) is int and abs(after[2]) <= _INT64_MAX))
        and type(after[3]) is bool
    ):
        return offset, (after[0], after[1], float(after[2]), after[3])
    raise InvalidParameter(f"Invalid page token '{shorten(token)}'")


def _payload(token: str) -> dict[str, object] | None:
    try:
        payload = json.loads(base64.b64decode(token, validate=True).decode("utf-8"))
    except (ValueError, binascii.Error, RecursionError):  # bad base64, UTF-8 or JSON
        return None
    return payload if isinstance(payload, dict) else None


def _offset(token: str) -> int | None:
    """The token's offset, or None for anything we did not issue."""
    payload = _payload(token)
    return None if payload is None else _offset_in(payload)


# No page starts past this: a larger offset (a forged token) reads as an empty page, as it
# does on MLflow's server, instead of overflowing the driver's integer (a 500 on SQLite, a
# 400 on PostgreSQL's 32-bit OFFSET parameter).
_MAX_OFFSET = 2**31 - 1


def _offset_in(payload: dict[str, object]) -> int | None:
    offset = payload.get("offset")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        return None
    return min(offset, _MAX_OFFSET)
