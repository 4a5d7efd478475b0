"""``collect_garbage`` through the artifact layer: S3 roots, proxied URIs mapped onto them, and
locations outside the root that are never touched."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from shipyard.artifacts import S3ArtifactRepository
from shipyard.cli import app
from shipyard.store.sql import SqlStore
from shipyard.tracking import TrackingService
from shipyard.tracking._gc import ArtifactRoot, collect_garbage


def service(tmp_path: Path, default_root: str) -> tuple[SqlStore, TrackingService]:
    store = SqlStore(f"sqlite:///{tmp_path / 'tracking.db'}", default_root)
    return store, TrackingService(store)


def new_run(svc: TrackingService, exp_id: str) -> tuple[str, str]:
    run = svc.create_run(exp_id, "me", 0, [], None)
    return run.info.run_id, run.info.artifact_uri


def fill(moto: Any, uri: str, files: dict[str, bytes]) -> int:
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    repo = S3ArtifactRepository(bucket, prefix, moto.settings)
    for name, data in files.items():
        repo.put_stream(name, [data])
    return sum(len(d) for d in files.values())


def test_deleted_runs_and_experiments_leave_s3(tmp_path: Path, moto_server: Any) -> None:
    bucket = moto_server.new_bucket()
    root = f"s3://{bucket}/root"
    store, svc = service(tmp_path, root)
    exp = svc.create_experiment("kept")
    gone_id, gone_uri = new_run(svc, exp)
    kept_id, kept_uri = new_run(svc, exp)
    freed = fill(moto_server, gone_uri, {"model/w.bin": b"w" * 3000, "notes.txt": b"hi"})
    fill(moto_server, kept_uri, {"model/w.bin": b"keep"})
    doomed = svc.create_experiment("doomed")
    _, doomed_uri = new_run(svc, doomed)
    freed += fill(moto_server, doomed_uri, {"a.txt": b"a" * 10})
    freed += fill(moto_server, f"{root}/{doomed}", {"experiment-level.txt": b"e" * 7})
    svc.delete_run(gone_id)
    svc.delete_experiment(doomed)

    report = collect_garbage(store, root, s3=moto_server.settings)

    assert report.runs[0] == gone_id and len(report.runs) == 2
    assert report.experiments == [doomed] and report.skipped_artifacts == []
    assert report.bytes_freed == freed == 3000 + 2 + 10 + 7
    assert set(moto_server.keys(bucket)) == {f"root/{exp}/{kept_id}/artifacts/model/w.bin"}


def test_proxied_uris_map_onto_an_s3_destination(tmp_path: Path, moto_server: Any) -> None:
    bucket = moto_server.new_bucket()
    store, svc = service(tmp_path, "mlflow-artifacts:/")  # a server with --serve-artifacts
    run_id, uri = new_run(svc, svc.create_experiment("served"))
    assert uri.startswith("mlflow-artifacts:/")
    path = uri.removeprefix("mlflow-artifacts:/")
    freed = fill(moto_server, f"s3://{bucket}/served/{path}", {"f.bin": b"x" * 99})
    svc.delete_run(run_id)
    report = collect_garbage(store, f"s3://{bucket}/served", s3=moto_server.settings)
    assert report.bytes_freed == freed == 99 and moto_server.keys(bucket) == {}


def test_locations_outside_the_root_are_never_deleted(tmp_path: Path, moto_server: Any) -> None:
    bucket = moto_server.new_bucket()
    root = f"s3://{bucket}/root"
    store, svc = service(tmp_path, root)
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine")
    places = [f"s3://{bucket}/root2", f"s3://{bucket}/elsewhere", str(outside), "gs://b/x"]
    runs = []
    for i, location in enumerate(places):
        exp = svc.create_experiment(f"outside-{i}", artifact_location=location)
        run_id, uri = new_run(svc, exp)
        if location.startswith("s3://"):
            fill(moto_server, uri, {"keep.bin": b"k"})
        runs.append(run_id)
        svc.delete_run(run_id)
    before = moto_server.keys(bucket)

    report = collect_garbage(store, root, s3=moto_server.settings)

    assert sorted(report.runs) == sorted(runs) and report.bytes_freed == 0
    assert len(report.skipped_artifacts) == len(places)
    assert moto_server.keys(bucket) == before and (outside / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("mlflow-artifacts:/1/r/artifacts", "1/r/artifacts"),
        ("mlflow-artifacts:/", None),  # the root itself
        ("mlflow-artifacts://other-host/1/r", None),  # another server's
        ("mlflow-artifacts:/1/../../etc", None),
        ("s3://bucket/root/1/r", "1/r"),
        ("s3://bucket/root", None),
        ("s3://bucket/rootless/1", None),
        ("s3://other/root/1", None),
        ("file:///etc", None),
    ],
)
def test_what_counts_as_below_an_s3_root(uri: str, expected: str | None) -> None:
    assert ArtifactRoot("s3://bucket/root").relative(uri) == expected


def test_gc_command_on_s3(
    tmp_path: Path, moto_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = moto_server.new_bucket()
    root = f"s3://{bucket}/root"
    _, svc = service(tmp_path, root)
    run_id, uri = new_run(svc, svc.create_experiment("cli"))
    fill(moto_server, uri, {"model.bin": b"m" * 2048})
    svc.delete_run(run_id)
    for name, value in moto_server.env.items():
        monkeypatch.setenv(name, value)
    db = f"sqlite:///{tmp_path / 'tracking.db'}"
    result = CliRunner().invoke(
        app, ["gc", "--backend-store-uri", db, "--artifacts-destination", root]
    )
    assert result.exit_code == 0, result.output
    assert "removed 1 run(s)" in result.output and "freed 2048 bytes" in result.output
    assert moto_server.keys(bucket) == {}


def test_registered_runs_and_models_are_kept_until_their_version_goes(tmp_path: Path) -> None:
    from shipyard.registry import open_registry
    from shipyard.settings import Settings
    from shipyard.store._registry import Change

    root = str(tmp_path / "artifacts")
    store, svc = service(tmp_path, root)
    registry = open_registry(svc, root, Settings())
    run_id, run_uri = new_run(svc, "0")
    Path(run_uri, "model").mkdir(parents=True)
    Path(run_uri, "model", "MLmodel").write_text("flavors: {}\n")
    model = svc.create_logged_model("0", "clf", source_run_id=None)
    Path(model.artifact_uri).mkdir(parents=True)
    Path(model.artifact_uri, "model.skops").write_bytes(b"m" * 50)
    registry.create_registered_model("churn", Change("ana"))
    registry.create_model_version("churn", f"runs:/{run_id}/model", Change("ana"), run_id=run_id)
    registry.create_model_version("churn", f"models:/{model.model_id}", Change("ana"))
    svc.delete_run(run_id)
    svc.delete_logged_model(model.model_id)

    report = collect_garbage(store, root)
    assert report.runs == [] and report.logged_models == []
    assert report.kept == [
        f"run {run_id} (used by churn version 1)",
        f"model {model.model_id} (used by churn version 2)",
    ]
    assert Path(run_uri, "model", "MLmodel").is_file()

    registry.delete_model_version("churn", "1", Change("ana"))
    registry.delete_model_version("churn", "2", Change("ana"))
    report = collect_garbage(store, root)
    assert (report.runs, report.logged_models, report.kept) == ([run_id], [model.model_id], [])
    assert not Path(run_uri).exists() and not Path(model.artifact_uri).exists()
    assert report.bytes_freed == len("flavors: {}\n") + 50


def test_abandoned_multipart_uploads_are_aborted(tmp_path: Path, moto_server: Any) -> None:
    import os
    import time

    from shipyard.artifacts import LocalArtifactRepository

    local = LocalArtifactRepository(tmp_path / "root")
    old = local.create_multipart("a/big.bin", 2)
    local.put_part("a/big.bin", old.upload_id, 1, [b"x" * 100])
    fresh = local.create_multipart("a/other.bin", 2)
    folder = tmp_path / "root" / ".shipyard-uploads" / old.upload_id
    two_days_ago = time.time() - 2 * 86400
    for f in [folder, *folder.iterdir()]:
        os.utime(f, (two_days_ago, two_days_ago))
    assert local.abort_stale_uploads(86400) == (1, 100)
    assert not folder.exists()
    assert (tmp_path / "root" / ".shipyard-uploads" / fresh.upload_id).is_dir()

    bucket = moto_server.new_bucket()
    s3 = S3ArtifactRepository(bucket, "root", moto_server.settings)
    started = s3.create_multipart("b/big.bin", 2)
    s3.put_part("b/big.bin", started.upload_id, 1, [b"y" * 5 * 1024 * 1024])
    # moto reports every upload as initiated in 2010, so only the local test checks the age cut
    assert s3.abort_stale_uploads(0) == (1, 5 * 1024 * 1024)
    assert s3.abort_stale_uploads(0) == (0, 0)
