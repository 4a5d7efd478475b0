"""The official ``mlflow`` 3.17 client's artifact API against live Shipyard servers: artifacts
served from a local folder and from S3 (``moto_server``), and ``--no-serve-artifacts`` handing
out ``s3://`` locations that the client writes to directly."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

import shipyard
from shipyard.client._artifacts import list_run_artifacts, log_run_artifact
from shipyard.settings import Settings

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")
MiB = 1024 * 1024


@pytest.fixture(params=["local", "s3"])
def served(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """(tracking URL, bucket or None): a server proxying a folder, or proxying S3."""
    if request.param == "local":
        url, bucket = request.getfixturevalue("live_server"), None
    else:
        s3 = request.getfixturevalue("s3_live_server")
        url, bucket = s3.url, s3.bucket
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    mlflow.set_tracking_uri(url)
    yield url, bucket
    while mlflow.active_run() is not None:
        mlflow.end_run("KILLED")


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_fluent_artifact_api(served: Any, tmp_path: Path, moto_server: Any) -> None:
    _, bucket = served
    src = tmp_path / "src"
    (src / "sub dir" / "ünï ✓").mkdir(parents=True)
    (src / "top.txt").write_text("top")
    (src / "sub dir" / "ünï ✓" / "deep file.json").write_text('{"deep": true}')
    exp = mlflow.set_experiment(f"artifacts-{uuid.uuid4().hex[:8]}")
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(src / "top.txt"), "single")
        mlflow.log_artifacts(str(src), "tree")
        mlflow.log_text("hello ✓", "notes/hello world.txt")
        mlflow.log_dict({"lr": 0.1, "layers": [1, 2]}, "config/params.json")
        mlflow.log_table({"q": ["a", "b"], "score": [0.5, 1.0]}, "table.json")
        mlflow.log_image(np.zeros((4, 6, 3), dtype=np.uint8), "images/zeros.png")
    run_id, uri = run.info.run_id, run.info.artifact_uri
    assert uri == f"mlflow-artifacts:/{exp.experiment_id}/{run_id}/artifacts"
    top = [f.path for f in MlflowClient().list_artifacts(run_id)]
    assert top == ["config", "images", "notes", "single", "table.json", "tree"]
    assert mlflow.artifacts.load_text(f"{uri}/notes/hello world.txt") == "hello ✓"
    assert mlflow.artifacts.load_dict(f"{uri}/config/params.json") == {"lr": 0.1, "layers": [1, 2]}
    assert mlflow.artifacts.load_image(f"{uri}/images/zeros.png").size == (6, 4)
    table = json.loads(mlflow.artifacts.load_text(f"{uri}/table.json"))
    assert table == {"columns": ["q", "score"], "data": [["a", 0.5], ["b", 1.0]]}
    out = mlflow.artifacts.download_artifacts(f"{uri}/tree", dst_path=str(tmp_path / "dl"))
    assert tree(Path(out)) == tree(src)
    one = mlflow.artifacts.download_artifacts(
        f"{uri}/tree/sub dir/ünï ✓/deep file.json", dst_path=str(tmp_path / "one")
    )
    assert Path(one).read_text() == '{"deep": true}'
    if bucket is not None:  # the bytes really are in S3, below the server's prefix
        keys = moto_server.keys(bucket)
        prefix = f"served/{exp.experiment_id}/{run_id}/artifacts"
        assert keys[f"{prefix}/notes/hello world.txt"] == "hello ✓".encode()
        assert keys[f"{prefix}/tree/sub dir/ünï ✓/deep file.json"] == b'{"deep": true}'


def test_runs_uris(served: Any, tmp_path: Path) -> None:
    with mlflow.start_run() as run:
        mlflow.log_text("via runs:/", "notes/n.txt")
    assert mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/notes/n.txt") == "via runs:/"
    top = mlflow.artifacts.list_artifacts(f"runs:/{run.info.run_id}/")
    assert [(f.path, f.is_dir) for f in top] == [("notes", True)]


def test_listing_a_runs_sub_path(served: Any) -> None:
    with mlflow.start_run() as run:
        mlflow.log_text("x", "notes/n.txt")
    assert [f.path for f in MlflowClient().list_artifacts(run.info.run_id, "notes")] == [
        "notes/n.txt"
    ]


def test_an_empty_file_is_listed_without_a_size_as_mlflow_lists_it(
    served: Any, tmp_path: Path
) -> None:
    """MLflow's server leaves a size of 0 out of a listing (protobuf's JSON omits zeros), so its
    client reads ``file_size`` None; a non-empty file keeps its size."""
    (tmp_path / "empty.txt").touch()
    (tmp_path / "one.txt").write_text("x")
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(tmp_path / "empty.txt"))
        mlflow.log_artifact(str(tmp_path / "one.txt"))
    listed = MlflowClient().list_artifacts(run.info.run_id)
    assert [(f.path, f.file_size) for f in listed] == [("empty.txt", None), ("one.txt", 1)]
    url, _ = served
    body = httpx.get(f"{url}/api/2.0/mlflow/artifacts/list", params={"run_id": run.info.run_id})
    assert body.json()["files"] == [
        {"path": "empty.txt", "is_dir": False},
        {"path": "one.txt", "is_dir": False, "file_size": 1},
    ]


def test_tables_in_folders_and_runs_downloads(served: Any, tmp_path: Path) -> None:
    """log_table into a folder lists that folder first (it appends to an existing table)."""
    mlflow.set_experiment(f"tables-{uuid.uuid4().hex[:8]}")
    with mlflow.start_run() as run:
        mlflow.log_table({"q": ["a"], "score": [0.5]}, "eval/results.json")
        mlflow.log_table({"q": ["b"], "score": [1.0]}, "eval/results.json")
    run_id = run.info.run_id
    table = mlflow.load_table("eval/results.json", run_ids=[run_id])
    assert table["q"].tolist() == ["a", "b"] and table["score"].tolist() == [0.5, 1.0]
    out = mlflow.artifacts.download_artifacts(f"runs:/{run_id}/eval", dst_path=str(tmp_path))
    assert json.loads((Path(out) / "results.json").read_text())["data"] == [["a", 0.5], ["b", 1.0]]


def test_a_50_mb_round_trip_keeps_every_byte(served: Any, tmp_path: Path) -> None:
    data = os.urandom(50 * MiB)
    (tmp_path / "big.bin").write_bytes(data)
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(tmp_path / "big.bin"), "model")
    (tmp_path / "out").mkdir()
    out = mlflow.artifacts.download_artifacts(
        f"{run.info.artifact_uri}/model/big.bin", dst_path=str(tmp_path / "out")
    )
    assert Path(out).read_bytes() == data


def test_server_info_offers_multipart_for_served_artifacts(served: Any) -> None:
    url, _ = served
    info = httpx.get(f"{url}/api/3.0/mlflow/server-info").json()
    assert info["multipart_uploads_enabled"] is True
    assert info["multipart_downloads_enabled"] is False  # no presigned downloads


def test_no_serve_artifacts_hands_out_s3_locations(
    server_factory: Any, moto_server: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bucket = moto_server.new_bucket()
    server = server_factory(
        artifact_root=f"s3://{bucket}/direct", serve_artifacts=False, env=moto_server.env
    )
    for name, value in moto_server.env.items():  # the client writes to S3 itself
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    mlflow.set_tracking_uri(server.url)
    exp = mlflow.set_experiment(f"direct-{uuid.uuid4().hex[:8]}")
    assert exp.artifact_location == f"s3://{bucket}/direct/{exp.experiment_id}"
    with mlflow.start_run() as run:
        mlflow.log_text("straight to S3", "notes/n.txt")
        mlflow.log_dict({"k": 1}, "cfg.json")
    run_id = run.info.run_id
    prefix = f"direct/{exp.experiment_id}/{run_id}/artifacts"
    assert run.info.artifact_uri == f"s3://{bucket}/{prefix}"
    assert set(moto_server.keys(bucket)) == {f"{prefix}/notes/n.txt", f"{prefix}/cfg.json"}
    # The server lists S3 itself for artifacts/list, and the proxy is not offered.
    listed = httpx.get(f"{server.url}/api/2.0/mlflow/artifacts/list", params={"run_id": run_id})
    assert listed.json()["files"] == [
        {"path": "cfg.json", "is_dir": False, "file_size": len(json.dumps({"k": 1}, indent=2))},
        {"path": "notes", "is_dir": True},
    ]
    info = httpx.get(f"{server.url}/api/3.0/mlflow/server-info").json()
    assert info["multipart_uploads_enabled"] is False
    # Shipyard's SDK reaches the same S3 with its own settings.
    client = shipyard.Client(server.url, Settings(s3=moto_server.settings))
    (tmp_path / "model.bin").write_bytes(b"weights")
    log_run_artifact(client, run_id, tmp_path / "model.bin", "model")
    assert moto_server.keys(bucket)[f"{prefix}/model/model.bin"] == b"weights"
    assert [f.path for f in list_run_artifacts(client, run_id)] == ["cfg.json", "model", "notes"]
    assert mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/cfg.json") == {"k": 1}
