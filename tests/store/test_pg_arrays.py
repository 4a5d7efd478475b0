"""Arrays packed in PostgreSQL's binary form (``_pg_arrays``): a real server reads back exactly
what was packed, and what the packers cannot represent is refused, never truncated."""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from shipyard.entities import Metric, Param, Tag
from shipyard.store.sql import SqlStore, make_engine
from shipyard.store.sql._pg_arrays import bools, float8s, int8s, texts

I64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
# PostgreSQL text holds no NUL; a lone surrogate is not UTF-8 (psycopg could not send it either).
TEXT = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"))


ONE_CONNECTION = settings(max_examples=60, deadline=None)  # on the module's connection


@pytest.fixture(scope="module")
def pg(postgres_admin_uri: str) -> Iterator[sa.Connection]:
    engine = make_engine(postgres_admin_uri)
    with engine.connect() as conn:
        yield conn
    engine.dispose()


def _echo(conn: sa.Connection, packed: Any, sql_type: str) -> list[Any]:
    result: list[Any] = conn.exec_driver_sql(f"SELECT %(a)b::{sql_type}", {"a": packed}).scalar()
    return result


def _same_floats(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and all(
        (math.isnan(x) and math.isnan(y)) or struct.pack(">d", x) == struct.pack(">d", y)
        for x, y in zip(a, b, strict=True)
    )


@ONE_CONNECTION
@given(ints=st.lists(I64, max_size=40), floats=st.lists(st.floats(), max_size=40))
def test_numbers_read_back_exactly(pg: sa.Connection, ints: list[int], floats: list[float]) -> None:
    assert _echo(pg, int8s(ints), "bigint[]") == ints
    assert _same_floats(_echo(pg, float8s(floats), "float8[]"), floats)  # -0.0, inf and NaN too


@ONE_CONNECTION
@given(words=st.lists(TEXT, max_size=30), flags=st.lists(st.booleans(), max_size=30))
def test_text_and_bools_read_back_exactly(
    pg: sa.Connection, words: list[str], flags: list[bool]
) -> None:
    assert _echo(pg, texts(words), "text[]") == words
    assert _echo(pg, bools(flags), "bool[]") == flags


def test_a_batch_sized_array_with_repeated_keys(pg: sa.Connection) -> None:
    keys = [f"k{i % 10}" for i in range(1000)] + ["é🚀", "k3"]
    assert _echo(pg, texts(keys), "text[]") == keys
    stamps = [1_700_000_000_000 + i for i in range(1000)]
    assert _echo(pg, int8s(stamps), "bigint[]") == stamps


@pytest.mark.parametrize(
    "values",
    [[1.5], [True, False], [2**63], [-(2**63) - 1], [1, "2"]],
    ids=["float", "bools", "past-int64", "below-int64", "text"],
)
def test_bigint_arrays_refuse_what_is_not_an_int64(values: list[Any]) -> None:
    with pytest.raises(TypeError, match="Int8s takes 'i' values"):
        int8s(values)


@pytest.mark.parametrize(
    ("pack", "values"),
    [(float8s, ["1.5"]), (float8s, [True]), (float8s, [None]), (bools, [1]), (bools, ["x"])],
    ids=["float-str", "float-bool", "float-none", "bool-int", "bool-str"],
)
def test_float_and_bool_arrays_refuse_other_values(pack: Any, values: list[Any]) -> None:
    with pytest.raises(TypeError, match="takes"):
        pack(values)


def test_the_database_refuses_a_nul_in_text_and_the_batch_is_not_stored(
    postgres_uri: str, tmp_path: Path
) -> None:
    store = SqlStore(postgres_uri, str(tmp_path))
    try:
        exp = store.create_experiment("nul")
        run = store.create_run(exp, user_id="u", start_time=0).info.run_id
        store.log_batch(run, params=[Param("p", "1")])
        with pytest.raises(sa.exc.DataError):
            store.log_batch(run, [Metric("m", 1.0, 5, 0)], tags=[Tag("t", "a\x00b")])
        data = store.get_run(run).data
        assert (data.params, data.tags.get("t"), data.metrics) == ({"p": "1"}, None, [])
    finally:
        store.engine.dispose()
