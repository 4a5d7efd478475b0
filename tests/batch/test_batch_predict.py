"""Batch scoring: CSV/Parquet files and folders, parallel workers, resume, SQL, inference log."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

import shipyard.sklearn
from shipyard.batch import predict, predict_sql
from shipyard.batch._scoring import choose_processes
from shipyard.errors import InvalidParameter, ShipyardError
from shipyard.inference_log import read_inference_log
from shipyard.pyfunc import load_model


def expected(model: Path, rows: pd.DataFrame) -> np.ndarray:
    return load_model(model).predict(rows.drop(columns="id"))


@pytest.mark.parametrize("workers", [0, 1, 2])
def test_csv_to_parquet_in_input_order(
    model: Path, rows: pd.DataFrame, tmp_path: Path, workers: int
) -> None:
    rows.to_csv(tmp_path / "in.csv", index=False)
    result = predict(str(model), tmp_path / "in.csv", tmp_path / "out.parquet",
                     workers=workers, chunk_rows=3_000, keep_columns=("id",))  # fmt: skip
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert result.units > 4 and result.rows == len(rows)
    assert result.processes == (workers or result.processes) and result.processes in (1, 2)
    assert out["id"].tolist() == rows["id"].tolist()
    assert (out["prediction"].to_numpy() == expected(model, rows)).all()
    assert not (tmp_path / "out.parquet.parts").exists()


def test_parquet_folder_with_large_row_groups_to_csv(
    model: Path, rows: pd.DataFrame, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    rows.iloc[:12_000].to_parquet(folder / "a.parquet", row_group_size=12_000)
    rows.iloc[12_000:].to_parquet(folder / "b.parquet", row_group_size=1_000)
    result = predict(str(model), folder, tmp_path / "out.csv", chunk_rows=5_000, workers=2)
    assert result.units >= 4  # the 12,000-row group was cut into slices
    out = pd.read_csv(tmp_path / "out.csv")
    assert len(out) == len(rows)
    assert (out["prediction"].to_numpy() == expected(model, rows)).all()


def test_output_folder_keeps_the_parts(model: Path, rows: pd.DataFrame, tmp_path: Path) -> None:
    rows.to_parquet(tmp_path / "in.parquet", row_group_size=5_000)
    predict(str(model), tmp_path / "in.parquet", tmp_path / "out", chunk_rows=5_000)
    parts = sorted((tmp_path / "out").glob("part-*.parquet"))
    assert len(parts) == 4
    assert pq.read_table(tmp_path / "out").num_rows == len(rows)


def test_batch_rows_go_to_the_inference_log(
    model: Path, rows: pd.DataFrame, tmp_path: Path
) -> None:
    small = rows.head(500)
    small.to_parquet(tmp_path / "in.parquet")
    predict(str(model), tmp_path / "in.parquet", tmp_path / "out.parquet",
            log_root=str(tmp_path / "log"), model_name="risk", model_version="4",
            id_column="id")  # fmt: skip
    log = read_inference_log(tmp_path / "log", model="risk", version="4")
    # one file per unit, read back in no particular order across files
    log = log.sort_values("request_id", key=lambda ids: ids.astype(int), ignore_index=True)
    assert len(log) == 500 and (log["source"] == "batch").all()
    assert log["request_id"].tolist() == [str(i) for i in small["id"]]
    assert (log["out.prediction"].to_numpy() == expected(model, small)).all()


def test_one_process_per_core_by_default_at_most_one_per_unit() -> None:
    assert choose_processes(units=8, cores=4) == 4
    assert choose_processes(units=3, cores=4) == 3
    assert choose_processes(units=1, cores=4) == 1
    assert choose_processes(units=8, cores=1) == 1


def test_a_unit_that_fails_stops_the_job_and_keeps_the_finished_parts(
    model: Path, rows: pd.DataFrame, tmp_path: Path
) -> None:
    bad = rows.astype({"f3": object})
    bad.loc[15_000, "f3"] = "oops"  # a later unit reads f3 as text: the signature refuses it
    bad.to_csv(tmp_path / "in.csv", index=False)
    with pytest.raises(ShipyardError, match="f3"):
        predict(str(model), tmp_path / "in.csv", tmp_path / "out.parquet", workers=1,
                chunk_rows=2_000)  # fmt: skip
    parts = tmp_path / "out.parquet.parts"
    written = sorted(parts.glob("part-*.parquet"))
    assert 1 <= len(written) < 10 and not (tmp_path / "out.parquet").exists()
    assert all(pq.read_table(part).num_rows > 0 for part in written)
    assert not list(parts.glob(".*.tmp"))


def test_bad_inputs_are_named(model: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidParameter, match="does not exist"):
        predict(str(model), tmp_path / "missing.csv", tmp_path / "o.parquet")
    (tmp_path / "data.txt").write_text("a,b\n1,2\n")
    with pytest.raises(InvalidParameter, match=r"name it \.csv or \.parquet"):
        predict(str(model), tmp_path / "data.txt", tmp_path / "o.parquet")


@pytest.mark.slow
def test_resume_after_a_kill_neither_duplicates_nor_loses_rows(
    model: Path, rows: pd.DataFrame, tmp_path: Path
) -> None:
    big = pd.concat([rows] * 5, ignore_index=True)
    big["id"] = np.arange(len(big))
    big.to_csv(tmp_path / "in.csv", index=False)
    out = tmp_path / "out.parquet"
    parts = tmp_path / "out.parquet.parts"
    cmd = [sys.executable, "-m", "shipyard.cli", "models", "predict", "-m", str(model),
           "-i", str(tmp_path / "in.csv"), "-o", str(out), "--chunk-rows", "1000",
           "--workers", "1", "--keep-column", "id"]  # fmt: skip
    job = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(parts.glob("part-*.parquet"))) < 5:
        time.sleep(0.02)
    os.kill(job.pid, signal.SIGKILL)
    job.wait()
    done_before = len(list(parts.glob("part-*.parquet")))
    assert 5 <= done_before < 100 and not out.exists()  # really interrupted half way
    resumed = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    scored = pd.read_parquet(out)
    assert scored["id"].tolist() == big["id"].tolist()
    assert (scored["prediction"].to_numpy() == expected(model, big)).all()
    assert f"skipped {done_before}" in resumed.stdout.replace("\n", " ")


def test_resume_refuses_a_changed_input(model: Path, rows: pd.DataFrame, tmp_path: Path) -> None:
    rows.to_parquet(tmp_path / "in.parquet")
    predict(str(model), tmp_path / "in.parquet", tmp_path / "out", chunk_rows=5_000)
    rows.head(10).to_parquet(tmp_path / "in.parquet")
    with pytest.raises(InvalidParameter, match="changed"):
        predict(str(model), tmp_path / "in.parquet", tmp_path / "out", resume=True)


def test_sql_query_into_a_table(model: Path, rows: pd.DataFrame, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    engine = sa.create_engine(url)
    rows.head(3_000).to_sql("features", engine, index=False)
    count = predict_sql(str(model), url, "SELECT * FROM features WHERE id >= 1000", "scores",
                        chunk_rows=700, keep_columns=("id",))  # fmt: skip
    assert count == 2_000
    scores = pd.read_sql("SELECT * FROM scores ORDER BY id", engine)
    engine.dispose()
    assert scores["id"].tolist() == list(range(1000, 3000))
    part = rows.iloc[1000:3000]
    assert (scores["prediction"].to_numpy() == expected(model, part)).all()


def test_aggregate_inputs_keep_no_raw_input_in_the_log(
    model: Path, rows: pd.DataFrame, tmp_path: Path
) -> None:
    from shipyard.errors import InvalidModel
    from shipyard.inference_log import read_inference_aggregates

    rows.head(4_000).to_parquet(tmp_path / "in.parquet", row_group_size=1_000)
    log = str(tmp_path / "log")
    with pytest.raises(InvalidModel, match="reference_data"):  # the fixture has no profile
        predict(str(model), tmp_path / "in.parquet", tmp_path / "o.parquet", log_root=log,
                aggregate_inputs=True)  # fmt: skip
    features = rows.drop(columns="id")
    profiled = tmp_path / "profiled"
    estimator = load_model(model).unwrap()
    shipyard.sklearn.save_model(estimator, profiled, input_example=features.head(2),
                                reference_data=features)  # fmt: skip
    predict(str(profiled), tmp_path / "in.parquet", tmp_path / "out.parquet", chunk_rows=1_000,
            log_root=log, model_name="risk", aggregate_inputs=True)  # fmt: skip
    logged = read_inference_log(log, model="risk")
    assert len(logged) == 4_000 and not [c for c in logged.columns if c.startswith("in.")]
    summaries = read_inference_aggregates(log, model="risk")
    assert summaries["rows"].sum() == 4_000  # the id column is summarized only if profiled


def test_resume_with_other_workers_cuts_the_input_as_the_first_run(
    model: Path, rows: pd.DataFrame, tmp_path: Path
) -> None:
    rows.to_parquet(tmp_path / "in.parquet", row_group_size=1_000)
    out = tmp_path / "out"  # a folder keeps the parts, as an interrupted job leaves them
    first = predict(str(model), tmp_path / "in.parquet", out, workers=4, chunk_rows=20_000)
    assert first.units == 4  # a file smaller than a unit per process is cut finer
    (out / "part-000002.parquet").unlink()  # the unit the "interruption" lost
    again = predict(str(model), tmp_path / "in.parquet", out, workers=1, chunk_rows=20_000,
                    resume=True)  # fmt: skip
    assert (again.units, again.skipped_units, again.rows) == (4, 3, 5_000)
    assert pq.read_table(out).num_rows == len(rows)


def test_an_alias_is_pinned_to_the_version_it_names_when_the_job_starts(
    model: Path, rows: pd.DataFrame, tmp_path: Path
) -> None:
    from shipyard import Client, artifacts

    client = Client(str(tmp_path / "store"))
    client.create_registered_model("risk")
    for _ in range(2):
        logged = client.store.create_logged_model("0", "risk")
        artifacts.upload_directory(None, logged.artifact_uri, model)
        client.create_model_version("risk", f"models:/{logged.model_id}", model_id=logged.model_id)
    client.set_registered_model_alias("risk", "prod", "2")
    rows.head(300).to_parquet(tmp_path / "in.parquet")
    predict("models:/risk@prod", tmp_path / "in.parquet", tmp_path / "out.parquet",
            tracking_uri=client.tracking_uri, log_root=str(tmp_path / "log"))  # fmt: skip
    logged_rows = read_inference_log(tmp_path / "log", model="risk")
    assert set(logged_rows["model_version"]) == {"2"}  # not "0": the alias was resolved
    scores = pd.read_parquet(tmp_path / "out.parquet")
    assert (scores["prediction"].to_numpy() == expected(model, rows.head(300))).all()
