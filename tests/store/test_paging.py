"""Page tokens: MLflow's exact encoding, history cursors, and refusal of anything we did not
issue."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shipyard.errors import InvalidParameter
from shipyard.store.search import (
    decode_history_token,
    decode_page_token,
    encode_history_token,
    encode_page_token,
)


def b64(payload: str | bytes) -> str:
    raw = payload.encode() if isinstance(payload, str) else payload
    return base64.b64encode(raw).decode()


def test_encoding_matches_mlflow_byte_for_byte() -> None:
    assert encode_page_token(1) == "eyJvZmZzZXQiOiAxfQ=="
    assert base64.b64decode(encode_page_token(1000)) == b'{"offset": 1000}'


@pytest.mark.parametrize("token", [None, ""])
def test_no_token_means_the_first_page(token: str | None) -> None:
    assert decode_page_token(token) == 0


def test_decodes_an_mlflow_token() -> None:
    assert decode_page_token("eyJvZmZzZXQiOiAxfQ==") == 1


def test_accepts_compact_json_and_ignores_unknown_fields() -> None:
    assert decode_page_token(b64('{"offset":7}')) == 7
    assert decode_page_token(b64('{"offset": 3, "extra": true}')) == 3


@pytest.mark.parametrize(
    "token",
    [
        "not a token",
        "eyJvZmZzZXQiOiAxfQ",  # padding stripped
        "eyJvZmZzZXQiOiAxfQ==!",
        "ëyJvZmZzZXQiOiAxfQ==",
        b64("offset=1"),
        b64("[1]"),
        b64("1"),
        b64("null"),
        b64("{}"),
        b64('{"offset": -1}'),
        b64('{"offset": 1.5}'),
        b64('{"offset": "1"}'),
        b64('{"offset": true}'),
        b64('{"offset": null}'),
        b64(b"\xff\xfe"),
        b64("[" * 100_000),
        b64('{"offset": 1' + "0" * 5000 + "}"),
    ],
)
def test_malformed_tokens_are_invalid_parameters(token: str) -> None:
    with pytest.raises(InvalidParameter, match=r"^Invalid page token '") as info:
        decode_page_token(token)
    assert token[:50] in info.value.message
    assert info.value.code == "INVALID_PARAMETER_VALUE"


@pytest.mark.parametrize("offset", [-1, True, 1.0, "1"])
def test_encoding_refuses_offsets_that_are_not_row_counts(offset: Any) -> None:
    with pytest.raises(ValueError, match="non-negative int"):
        encode_page_token(offset)


@given(st.integers(min_value=0, max_value=2**63))
def test_tokens_round_trip(offset: int) -> None:
    """Up to 2^31 - 1; an offset past that (no real page starts there) reads as that one."""
    token = encode_page_token(offset)
    assert token.isascii()
    assert decode_page_token(token) == min(offset, 2**31 - 1)


def _is_genuine(token: str) -> bool:
    """Whether ``token`` really is base64 of a JSON object with a non-negative int offset."""
    try:
        payload = json.loads(base64.b64decode(token, validate=True).decode("utf-8"))
    except (ValueError, RecursionError):
        return False
    offset = payload.get("offset") if isinstance(payload, dict) else None
    return type(offset) is int and offset >= 0


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=8,
)


@given(
    st.one_of(
        st.text(),
        st.binary().map(b64),
        _JSON.map(lambda value: b64(json.dumps(value))),
        st.fixed_dictionaries({"offset": _JSON}).map(lambda value: b64(json.dumps(value))),
    )
)
def test_anything_else_raises_invalid_parameter(token: str) -> None:
    if not token or _is_genuine(token):
        return
    with pytest.raises(InvalidParameter):
        decode_page_token(token)


# ------------------------------------------------------------------ metric history cursors


def test_a_history_token_keeps_the_offset_for_mlflow_and_adds_the_last_point() -> None:
    token = encode_history_token(25_000, (1_700_000_000_000, 24_999, 0.1, False))
    assert json.loads(base64.b64decode(token)) == {
        "offset": 25_000,
        "after": [1_700_000_000_000, 24_999, 0.1, False],
    }
    assert decode_page_token(token) == 25_000  # what an offset-only reader sees
    assert decode_history_token(token) == (25_000, (1_700_000_000_000, 24_999, 0.1, False))


def test_an_mlflow_token_pages_the_history_by_offset() -> None:
    assert decode_history_token(encode_page_token(40)) == (40, None)
    assert decode_history_token(None) == (0, None)


@given(
    st.integers(min_value=0, max_value=2**63),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.booleans(),
)
def test_history_tokens_round_trip(
    offset: int, ts: int, step: int, value: float, nan: bool
) -> None:
    token = encode_history_token(offset, (ts, step, value, nan))
    assert token.isascii()
    assert decode_history_token(token) == (min(offset, 2**31 - 1), (ts, step, value, nan))


@pytest.mark.parametrize(
    "after",
    [
        "[1, 2, 3.0]",
        "[1, 2, 3.0, false, 5]",
        '"1,2,3,false"',
        "{}",
        "[1.5, 2, 3.0, false]",
        '[1, "2", 3.0, false]',
        "[true, 2, 3.0, false]",
        '[1, 2, "x", false]',
        "[1, 2, null, false]",
        "[1, 2, 3.0, 0]",
        "[1, 2, 3.0, null]",
        f"[{2**63}, 2, 3.0, false]",
        f"[1, {-(2**63) - 1}, 3.0, false]",
        f"[1, 2, {2**64}, false]",
    ],
)
def test_a_malformed_history_cursor_is_an_invalid_parameter(after: str) -> None:
    token = b64('{"offset": 10, "after": ' + after + "}")
    with pytest.raises(InvalidParameter, match=r"^Invalid page token '"):
        decode_history_token(token)
