"""PostgreSQL arrays packed into their binary wire form by numpy, for the hot write statements.

psycopg dumps a Python list element by element in Python: 120-160 us for each 1,000-element
array, five of them in a log-batch of 1,000 points (0.6 ms of a 5.8 ms request), and ~8 us for
each of the sixteen one-element arrays of a single log-metric. numpy packs a numeric array in
one call (~14 us for 1,000); text is encoded once per distinct value (a batch's metric keys
repeat). The result is a ``bytes`` subclass per element type, which ``register`` teaches a
connection to send as-is with the array type's oid.

The format (PostgreSQL's ``array_send``): number of dimensions, a has-nulls flag, the element
type's oid, then per dimension its length and lower bound (1), then each element as a 4-byte
length and its bytes. An empty array has no dimensions. None of these arrays holds a NULL.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Sequence
from typing import Any, ClassVar, TypeVar

import numpy as np

__all__ = ["Bools", "Float8s", "Int8s", "Texts", "bools", "float8s", "int8s", "register", "texts"]

_HEAD = struct.Struct(">iiiii")  # ndim 1, no nulls, element oid, length, lower bound 1
_EMPTY = struct.Struct(">iii")  # ndim 0, no nulls, element oid
_LENGTH = struct.Struct(">i")


class _Packed(bytes):
    """An array in binary wire form; ``oid`` is the array type's, ``element`` its items'."""

    oid: ClassVar[int]
    element: ClassVar[int]


class Int8s(_Packed):
    oid, element = 1016, 20


class Float8s(_Packed):
    oid, element = 1022, 701


class Bools(_Packed):
    oid, element = 1000, 16


class Texts(_Packed):
    oid, element = 1009, 25


P = TypeVar("P", bound=_Packed)


def _numeric(kind: type[P], item: str, values: Sequence[Any], kinds: str) -> P:
    """``values`` as an array of ``item`` (a numpy type of the right size and byte order),
    refused unless numpy reads them as one of ``kinds`` (nothing is converted silently)."""
    array = np.asarray(values)
    n = len(array)
    if not n:
        return kind(_EMPTY.pack(0, 0, kind.element))
    if array.dtype.kind not in kinds:
        raise TypeError(f"{kind.__name__} takes {kinds!r} values, got an array of {array.dtype}")
    packed = np.empty(n, dtype=[("size", ">i4"), ("value", item)])
    packed["size"] = np.dtype(item).itemsize
    packed["value"] = array
    return kind(_HEAD.pack(1, 0, kind.element, n, 1) + packed.tobytes())


def int8s(values: Sequence[int]) -> Int8s:
    """A ``bigint[]`` of Python ints (past 64 bits, floats or bools are refused)."""
    return _numeric(Int8s, ">i8", values, "i")


def float8s(values: Sequence[float]) -> Float8s:
    """A ``float8[]`` of floats or ints."""
    return _numeric(Float8s, ">f8", values, "fiu")


def bools(values: Sequence[bool]) -> Bools:
    return _numeric(Bools, "?", values, "b")


def texts(values: Sequence[str]) -> Texts:
    """A ``text[]``, in UTF-8 (the engine connects with ``client_encoding`` UTF8)."""
    n = len(values)
    if not n:
        return Texts(_EMPTY.pack(0, 0, Texts.element))
    items: dict[str, bytes] = {}
    for value in set(values):
        data = value.encode()
        items[value] = _LENGTH.pack(len(data)) + data
    body = b"".join(map(items.__getitem__, values))
    return Texts(_HEAD.pack(1, 0, Texts.element, n, 1) + body)


@functools.cache
def _senders() -> tuple[tuple[type[_Packed], type[Any]], ...]:
    # psycopg is the ``postgres`` extra: imported only once a PostgreSQL engine connects.
    from psycopg.adapt import Dumper
    from psycopg.pq import Format

    def sender(kind: type[_Packed]) -> type[Any]:
        class Send(Dumper):
            format = Format.BINARY
            oid = kind.oid

            def dump(self, obj: Any) -> Any:
                return obj

        return Send

    return tuple((kind, sender(kind)) for kind in (Int8s, Float8s, Bools, Texts))


def register(dbapi_conn: Any, _record: Any = None) -> None:
    """Teach a psycopg connection to send the packed arrays as they are (an engine ``connect``
    event). ``texts`` packs UTF-8: the engine connects with ``client_encoding`` UTF8."""
    for kind, send in _senders():
        dbapi_conn.adapters.register_dumper(kind, send)
