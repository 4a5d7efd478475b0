"""Schema versions: migrations build exactly the declared schema; start-up refuses stale ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine
from sqlalchemy.dialects import postgresql
from typer.testing import CliRunner

from shipyard.cli import app
from shipyard.entities import Dataset, DatasetInput, Metric, Param, Tag
from shipyard.errors import SchemaOutOfDate
from shipyard.store import RunQuery
from shipyard.store.sql import SqlStore, current_revision, head_revision, make_engine, upgrade
from shipyard.store.sql._schema import metadata


def test_migrations_build_the_declared_schema(db_uri: str) -> None:
    engine = make_engine(db_uri)
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_new_database_is_created_at_head(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'new.db'}", str(tmp_path))
    assert current_revision(store.engine) == head_revision()


def test_stale_schema_is_refused_with_instructions(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'old.db'}"
    SqlStore(uri, str(tmp_path))
    engine = make_engine(uri)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0000'")
    with pytest.raises(SchemaOutOfDate, match="shipyard db upgrade"):
        SqlStore(uri, str(tmp_path))


def test_foreign_database_is_refused(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'foreign.db'}"
    with make_engine(uri).begin() as conn:
        conn.exec_driver_sql("CREATE TABLE experiments (id INTEGER)")
    with pytest.raises(SchemaOutOfDate, match="not created by Shipyard"):
        SqlStore(uri, str(tmp_path))


def test_db_commands(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()
    result = runner.invoke(app, ["db", "upgrade", "--backend-store-uri", uri])
    assert result.exit_code == 0, result.output
    assert f"-> {head_revision()}" in result.output
    result = runner.invoke(app, ["db", "current", "--backend-store-uri", uri])
    assert f"database: {head_revision()}" in result.output


def _two_points_at(db: Path, revision: str) -> Engine:
    """A SQLite database at ``revision`` holding one run with two points of ``loss``."""
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine, revision)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage) "
            "VALUES (1, 'e', '/a', 'active')"
        )
        conn.exec_driver_sql(
            "INSERT INTO runs (run_uuid, experiment_id, status, lifecycle_stage) "
            "VALUES ('r1', 1, 'RUNNING', 'active')"
        )
        conn.exec_driver_sql(
            "INSERT INTO metrics VALUES ('r1', 'loss', 1, 0, 0.5, 0), ('r1', 'loss', 2, 1, 0.25, 0)"
        )
    return engine


def _downgrade(engine: Engine, revision: str) -> None:
    """Alembic's downgrade to ``revision``, on ``engine``'s database."""
    from alembic import command

    from shipyard.store.sql._migrations import _config

    cfg = _config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def test_0002_keeps_points_and_drops_rowid(tmp_path: Path) -> None:
    """Upgrade from 0001 with data in it: every point survives, the table has no rowid."""
    engine = _two_points_at(tmp_path / "m.db", "0001")
    upgrade(engine)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT step, value FROM metrics ORDER BY step").all()
        ddl = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'metrics'").scalar()
    assert [tuple(r) for r in rows] == [(0, 0.5), (1, 0.25)]
    assert "WITHOUT ROWID" in str(ddl)


def test_0006_drops_the_metrics_run_key_and_keeps_points(tmp_path: Path) -> None:
    """Upgrade from 0005 with points in it: every point survives, the table keeps WITHOUT
    ROWID and has no foreign key; downgrading puts the key back."""
    engine = _two_points_at(tmp_path / "fk.db", "0005")
    upgrade(engine)

    def state() -> tuple[list[tuple[int, float]], str, list[object]]:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT step, value FROM metrics ORDER BY step").all()
            ddl = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'metrics'")
            keys = conn.exec_driver_sql("PRAGMA foreign_key_list(metrics)").all()
        return [(r[0], r[1]) for r in rows], str(ddl.scalar()), list(keys)

    points, ddl, keys = state()
    assert points == [(0, 0.5), (1, 0.25)] and "WITHOUT ROWID" in ddl and keys == []
    _downgrade(engine, "0005")
    points, ddl, keys = state()
    assert points == [(0, 0.5), (1, 0.25)] and "WITHOUT ROWID" in ddl and len(keys) == 1


def test_0003_adds_logged_models_and_keeps_runs(tmp_path: Path) -> None:
    """Upgrade from 0002 with a run in it: the run survives and logged models work."""
    uri = f"sqlite:///{tmp_path / 'lm.db'}"
    engine = make_engine(uri)
    upgrade(engine, "0002")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage) "
            "VALUES (0, 'Default', '/a/0', 'active')"
        )
        conn.exec_driver_sql(
            "INSERT INTO runs (run_uuid, experiment_id, status, lifecycle_stage) "
            "VALUES ('r1', 0, 'RUNNING', 'active')"
        )
    upgrade(engine)
    store = SqlStore(uri, str(tmp_path))
    model = store.create_logged_model("0", "m", source_run_id="r1")
    assert model.artifact_uri == f"/a/0/models/{model.model_id}/artifacts"
    assert store.get_run("r1").info.status == "RUNNING"


def test_0007_gives_postgresql_key_value_statistics(postgres_uri: str) -> None:
    """The planner's estimate of ``key = ... AND value = ...`` comes from these (see 0007)."""
    engine = make_engine(postgres_uri)
    upgrade(engine)
    with engine.connect() as conn:
        names = conn.exec_driver_sql("SELECT stxname FROM pg_statistic_ext ORDER BY 1").scalars()
        assert list(names) == ["st_params_key_value", "st_tags_key_value"]
    engine.dispose()


def test_0009_leaves_postgresql_runs_room_for_heap_only_updates(postgres_uri: str) -> None:
    """Setting and clearing ``wire_kept`` rewrites a run's row in place when it can (0009)."""
    engine = make_engine(postgres_uri)
    upgrade(engine)
    with engine.connect() as conn:
        options = conn.exec_driver_sql(
            "SELECT reloptions FROM pg_class WHERE relname = 'runs'"
        ).scalar_one()
    assert options == ["fillfactor=90"]
    engine.dispose()


def test_0008_rebuilds_run_data_without_rowid_and_keeps_rows_and_indexes(tmp_path: Path) -> None:
    """Upgrade from 0007 with a run's params, tags and latest metric in it: every row survives,
    each table is WITHOUT ROWID with its key, foreign key and index; the store reads the run
    back; downgrading gives the rowid tables back with the same rows."""
    uri = f"sqlite:///{tmp_path / 'rd.db'}"
    engine = _two_points_at(tmp_path / "rd.db", "0007")
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO params VALUES ('r1', 'lr', '0.1'), ('r1', 'n', '5')")
        conn.exec_driver_sql("INSERT INTO tags VALUES ('r1', 'team', 'a'), ('r1', 'empty', NULL)")
        conn.exec_driver_sql("INSERT INTO latest_metrics VALUES ('r1', 'loss', 0.25, 0, 2, 1)")
    tables = ("params", "tags", "latest_metrics")

    def state() -> dict[str, tuple[list[tuple[object, ...]], str, int, list[str]]]:
        out = {}
        with engine.connect() as conn:
            for t in tables:
                rows = [tuple(r) for r in conn.exec_driver_sql(f"SELECT * FROM {t} ORDER BY 2")]
                ddl = conn.exec_driver_sql(
                    "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (t,)
                ).scalar_one()
                fks = len(conn.exec_driver_sql(f"PRAGMA foreign_key_list({t})").all())
                idx = conn.exec_driver_sql(
                    "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
                    "AND sql IS NOT NULL",
                    (t,),
                ).scalars()
                out[t] = (rows, ddl, fks, list(idx))
        return out

    before = state()
    upgrade(engine)
    after = state()
    for t in tables:
        rows, ddl, fks, idx = after[t]
        assert rows == before[t][0] and fks == 1 and idx == before[t][3] and len(idx) == 1
        assert ddl.endswith("WITHOUT ROWID") and "WITHOUT ROWID" not in before[t][1]
    run = SqlStore(uri, str(tmp_path)).get_run("r1")
    assert run.data.params == {"lr": "0.1", "n": "5"} and run.data.tags["team"] == "a"
    assert [(m.key, m.value, m.step) for m in run.data.metrics] == [("loss", 0.25, 1)]
    _downgrade(engine, "0007")
    # (SQLite writes a renamed table's name quoted: CREATE TABLE "params" (...))
    unquoted = {t: (*v[:1], v[1].replace(f'"{t}"', t), *v[2:]) for t, v in state().items()}
    assert unquoted == before


def test_0009_adds_run_wire_and_downgrade_keeps_every_row(tmp_path: Path) -> None:
    """Runs arrive not kept, with an empty ``run_wire``; downgrading drops both again and
    keeps the runs and everything under them (a "move and copy" of ``runs`` on SQLite would
    cascade-delete their params and metrics)."""
    engine = _two_points_at(tmp_path / "dj.db", "0008")
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO params VALUES ('r1', 'lr', '0.1')")
        conn.exec_driver_sql("INSERT INTO latest_metrics VALUES ('r1', 'loss', 0.25, 0, 2, 1)")

    def counts() -> list[int]:
        with engine.connect() as conn:
            return [
                conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar_one()
                for t in ("runs", "params", "metrics", "latest_metrics")
            ]

    before = counts()
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT wire_kept FROM runs").scalars().all() == [0]
        assert conn.exec_driver_sql("SELECT count(*) FROM run_wire").scalar_one() == 0
    assert counts() == before == [1, 1, 2, 1]
    _downgrade(engine, "0008")
    with engine.connect() as conn:
        columns = [r[1] for r in conn.exec_driver_sql("PRAGMA table_info(runs)")]
        tables = conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'")
        assert "run_wire" not in set(tables.scalars())
    assert "wire_kept" not in columns and counts() == before


def test_0010_clears_bodies_kept_without_a_generation(tmp_path: Path) -> None:
    """A body kept under 0009 has no generation, so a server could not tell it from a later
    one: 0010 clears its flag (the next search keeps it again, with a generation), and the
    runs' data stays; downgrading drops the column and keeps every row."""
    engine = _two_points_at(tmp_path / "g.db", "0009")
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE runs SET status = 'FINISHED', wire_kept = 1")
        conn.exec_driver_sql("INSERT INTO run_wire VALUES ('r1', '{\"data\":{}}')")
    upgrade(engine)
    with engine.connect() as conn:
        row = conn.exec_driver_sql("SELECT wire_kept, wire_gen, status FROM runs").one()
        assert tuple(row) == (0, None, "FINISHED")
        assert conn.exec_driver_sql("SELECT count(*) FROM metrics").scalar_one() == 2
    store = SqlStore(f"sqlite:///{tmp_path / 'g.db'}", str(tmp_path / "a"), engine=engine)
    store.search_runs_json(RunQuery(["1"]))  # keeps it again, with a generation
    with engine.connect() as conn:
        kept, gen = conn.exec_driver_sql("SELECT wire_kept, wire_gen FROM runs").one()
        assert kept == 1 and isinstance(gen, int)
    _downgrade(engine, "0009")
    with engine.connect() as conn:
        columns = [r[1] for r in conn.exec_driver_sql("PRAGMA table_info(runs)")]
        assert conn.exec_driver_sql("SELECT count(*) FROM metrics").scalar_one() == 2
    assert "wire_gen" not in columns and "wire_kept" in columns


def _c_collated(conn: Any) -> set[tuple[str, str]]:
    rows = conn.exec_driver_sql(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND collation_name = 'C'"
    )
    return {(t, c) for t, c in rows}


def test_0011_compares_ids_and_keys_by_bytes_on_postgresql(postgres_uri: str) -> None:
    """0011 gives every column the schema declares ``COLLATE "C"`` on PostgreSQL that
    collation, keeps the rows and the statistics, leaves the indexes usable by the store's
    hand-written statements (whose parameters are plain ``text``), and downgrades back."""
    declared = {
        (table.name, column.name)
        for table in metadata.tables.values()
        for column in table.columns
        if getattr(column.type.dialect_impl(postgresql.dialect()), "collation", None) == "C"
    }
    assert ("metrics", "key") in declared and ("runs", "run_uuid") in declared
    engine = make_engine(postgres_uri)
    upgrade(engine, "0010")
    store = SqlStore(postgres_uri, "/a", engine=engine, check_schema=False)
    run = store.create_run("0", "u", 1, run_name="before")
    store.log_batch(
        run.info.run_id,
        metrics=[Metric("loss", 0.5, 1, 0), Metric("loss", 0.25, 2, 1)],
        params=[Param("lr", "0.1")],
    )
    with engine.connect() as conn:
        assert _c_collated(conn) == set()
    upgrade(engine)
    with engine.connect() as conn:
        assert _c_collated(conn) == declared
        names = conn.exec_driver_sql("SELECT stxname FROM pg_statistic_ext ORDER BY 1").scalars()
        assert list(names) == ["st_params_key_value", "st_tags_key_value"]
        conn.exec_driver_sql("SET enable_seqscan = off")
        plan = conn.exec_driver_sql(
            "EXPLAIN SELECT value FROM metrics WHERE run_uuid = %(r)s::text AND key = %(k)s::text",
            {"r": run.info.run_id, "k": "loss"},
        ).scalars()
        cond = next(line for line in plan if "Index Cond" in line)
        assert "(run_uuid = " in cond and "(key = 'loss'::text)" in cond
    store = SqlStore(postgres_uri, "/a", engine=engine)
    store.log_batch(run.info.run_id, metrics=[Metric("loss", 0.125, 3, 2)], tags=[Tag("t", "v")])
    stored = store.get_run(run.info.run_id)
    assert stored.data.params == {"lr": "0.1"}
    assert [(m.key, m.value) for m in stored.data.metrics] == [("loss", 0.125)]
    assert [m.value for m in store.get_metric_history(run.info.run_id, "loss").items] == [
        0.5,
        0.25,
        0.125,
    ]
    _downgrade(engine, "0010")
    with engine.connect() as conn:
        assert _c_collated(conn) == set()
        assert conn.exec_driver_sql("SELECT count(*) FROM metrics").scalar_one() == 3
    engine.dispose()


def _names_of_inputs(store: SqlStore, *run_ids: str) -> list[list[str]]:
    return [[i.dataset.name for i in store.get_run(r).inputs] for r in run_ids]


def test_0012_numbers_dataset_inputs_and_keeps_their_order(db_uri: str, tmp_path: Path) -> None:
    """Upgrade from 0011 with two runs' datasets in it: every link survives at position 0, so
    each run lists its datasets as before (by id); a dataset logged after the upgrade comes
    last, even with a smaller id; the schema is the declared one; downgrading drops the column
    and keeps the links."""
    engine = make_engine(db_uri)
    upgrade(engine, "0011")
    store = SqlStore(db_uri, str(tmp_path / "a"), engine=engine, check_schema=False)
    a, b = (store.create_run("0", "u", 1).info.run_id for _ in range(2))
    with engine.begin() as conn:  # links as 0011's store wrote them (ids: z 1, x 2, y 3)
        for name in "zxy":
            conn.execute(
                sa.text(
                    "INSERT INTO datasets (experiment_id, name, digest, source_type, source) "
                    "VALUES (0, :name, 'd', 'code', '{}')"
                ),
                {"name": name},
            )
        conn.execute(
            sa.text(
                "INSERT INTO dataset_inputs (run_uuid, dataset_id) "
                "SELECT :run, dataset_id FROM datasets WHERE name = :name"
            ),
            [{"run": r, "name": n} for r, names in ((a, "zxy"), (b, "xy")) for n in names],
        )
    upgrade(engine)
    with engine.connect() as conn:
        positions = conn.exec_driver_sql("SELECT DISTINCT position FROM dataset_inputs").all()
        assert [tuple(p) for p in positions] == [(0,)]
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    store = SqlStore(db_uri, str(tmp_path / "a"), engine=engine)
    assert _names_of_inputs(store, a, b) == [["z", "x", "y"], ["x", "y"]]
    z, y = (DatasetInput(Dataset(n, "d", "code", "{}", None, None), ()) for n in "zy")
    store.log_inputs(b, [z, y])
    assert _names_of_inputs(store, a, b) == [["z", "x", "y"], ["x", "y", "z"]]
    _downgrade(engine, "0011")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM dataset_inputs").scalar_one() == 6
        columns = sa.inspect(conn).get_columns("dataset_inputs")
    assert "position" not in {c["name"] for c in columns}
    engine.dispose()
