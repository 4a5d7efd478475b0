"""A search's queries sent through the driver as compiled once (``_search._driver_form``)
give the rows SQLAlchemy's own execution of the same query gives, page by page, on both
backends, for every kind of filter and order."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from shipyard.entities import Dataset, DatasetInput, Metric, Param, Tag, ViewType
from shipyard.store.sql import SqlStore, _search
from shipyard.store.sql._schema import runs


@pytest.fixture
def seeded(db_uri: str, tmp_path: Path) -> Iterator[tuple[SqlStore, str, list[str]]]:
    store = SqlStore(db_uri, str(tmp_path / "artifacts"))
    exp = store.create_experiment("driver")
    ids = []
    for i in range(12):
        run = store.create_run(exp, "alice" if i % 2 else "bob", 100 + i % 5, run_name=f"r{i}")
        metrics = [Metric("acc", i / 12, 1, 0)] if i % 4 else []
        store.log_batch(
            run.info.run_id,
            metrics=[*metrics, Metric("loss", float(12 - i), 1, 0)],
            params=[Param("model", ["rf", "lr", "50% off"][i % 3])],
            tags=[Tag("team", f"t{i % 2}")] if i % 3 else [],
        )
        if i % 5 == 0:
            data = Dataset("train", f"d{i}", "local", "/data")
            store.log_inputs(run.info.run_id, [DatasetInput(data)])
        if i % 2:
            store.update_run_info(run.info.run_id, "FINISHED", 200 + i)
        ids.append(run.info.run_id)
    store.delete_run(ids[3])
    yield store, exp, ids
    store.dispose()


FILTERS: list[tuple[str | None, list[str]]] = [
    (None, []),
    (None, ["metrics.acc DESC"]),
    ("metrics.acc > 0.3 AND params.model = 'rf'", ["metrics.acc DESC"]),
    ("params.model LIKE '50%'", ["params.model", "attributes.run_name DESC"]),
    ("params.model ILIKE '%R%'", ["tags.team DESC"]),
    ("tags.team = 't1'", ["metrics.loss"]),
    ("tags.team IS NULL", ["attributes.start_time DESC"]),
    ("attributes.status = 'FINISHED' AND metrics.loss <= 6", ["attributes.end_time"]),
    ("attributes.user_id != 'bob'", ["metrics.acc"]),
    ("datasets.digest IN ('d0', 'd5')", []),
    ("attributes.run_name LIKE 'r1%'", ["attributes.run_name"]),
]


@pytest.mark.parametrize(("filter_string", "order_by"), FILTERS)
@pytest.mark.parametrize("view", [ViewType.ACTIVE_ONLY, ViewType.ALL])
def test_the_driver_path_gives_sqlalchemys_rows(
    seeded: tuple[SqlStore, str, list[str]],
    filter_string: str | None,
    order_by: list[str],
    view: ViewType,
) -> None:
    store, exp, _ = seeded
    dialect = store.engine.dialect
    phases = _search.run_query([int(exp)], filter_string, view, order_by, dialect.name)
    assert all(_search._driver_form(q, dialect) is not None for q in phases)
    with store.engine.connect() as conn:
        for query in phases:
            for skip, want in [(0, 100), (0, 3), (2, 4), (50, 5)]:
                expected = conn.execute(query.offset(skip).limit(want)).all()
                got = _search._custom_plan(conn, query, skip, want)
                assert [tuple(r) for r in got] == [tuple(r) for r in expected]  # (0 == False)
                assert [r.run_uuid for r in got] == [r.run_uuid for r in expected]


def test_run_id_lists_are_written_into_the_compiled_sql(
    seeded: tuple[SqlStore, str, list[str]],
) -> None:
    store, exp, ids = seeded
    wanted = ids[4:9]
    quoted = ", ".join(f"'{i}'" for i in wanted)
    phases = _search.run_query(
        [int(exp)], f"attributes.run_id IN ({quoted})", ViewType.ALL, [], store.engine.dialect.name
    )
    form = _search._driver_form(phases[0], store.engine.dialect)
    assert form is not None and "POSTCOMPILE" not in form.sql
    assert sorted(v for v in form.params.values() if v in wanted) == sorted(wanted)
    with store.engine.connect() as conn:
        rows = _search._custom_plan(conn, phases[0], 0, 100)
    assert sorted(r.run_uuid for r in rows) == sorted(wanted)


class _Lower(sa.types.TypeDecorator[str]):
    impl = sa.String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: sa.Dialect) -> str | None:
        return None if value is None else value.lower()


def test_parameters_whose_type_converts_them_are_converted(
    seeded: tuple[SqlStore, str, list[str]],
) -> None:
    """A value whose type converts it on the way in is sent converted: a single value once,
    when the query is compiled; a list's values by SQLAlchemy, which then runs the query."""
    store, _, ids = seeded
    dialect = store.engine.dialect
    one = sa.select(runs.c.run_uuid).where(runs.c.name == sa.bindparam("n", "R7", _Lower()))
    form = _search._driver_form(one, dialect)
    assert form is not None and form.params["n"] == "r7"
    names = sa.bindparam("ns", ["R7", "R8"], expanding=True, type_=_Lower())
    many = sa.select(runs.c.run_uuid).where(runs.c.name.in_(names)).order_by(runs.c.name)
    assert _search._driver_form(many, dialect) is None
    with store.engine.connect() as conn:
        assert [r.run_uuid for r in _search._custom_plan(conn, one, 0, 10)] == [ids[7]]
        assert [r.run_uuid for r in _search._custom_plan(conn, many, 0, 10)] == ids[7:9]
