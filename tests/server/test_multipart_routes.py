"""The proxy's multipart uploads (``mpu/create|complete|abort`` and the part route).

Over a local folder through a TestClient (the HTTP contract and attacks), then MLflow's own client
against live servers: one over a local folder (parts come back to Shipyard), one over S3 on
``moto_server`` (parts go to presigned S3 URLs).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from shipyard.artifacts import ArtifactRepository, LocalArtifactRepository
from shipyard.server import create_app
from shipyard.server._artifact_proxy import artifacts_router
from shipyard.settings import Settings
from shipyard.tracking import TrackingService

API = "/api/2.0/mlflow-artifacts"
MiB = 1024 * 1024


@pytest.fixture
def jail(tmp_path: Path) -> Path:
    (tmp_path / "root").mkdir()
    (tmp_path / "secret.txt").write_text("top secret")
    return tmp_path


def app_over(repo: ArtifactRepository, store: TrackingService, **settings: Any) -> FastAPI:
    app = create_app(Settings(**settings), store, extra_routers=(artifacts_router(repo),))
    return app


@pytest.fixture
def client(jail: Path, tmp_store: TrackingService) -> Iterator[TestClient]:
    repo = LocalArtifactRepository(jail / "root")
    with TestClient(app_over(repo, tmp_store, artifact_root=str(jail / "root"))) as test_client:
        yield test_client


def create(client: TestClient, folder: str, body: dict[str, Any], status: int = 200) -> Any:
    response = client.post(f"{API}/mpu/create/{folder}", json=body)
    assert response.status_code == status, response.text
    return response.json()


def put_parts(
    client: TestClient, credentials: list[dict[str, Any]], parts: list[bytes]
) -> list[Any]:
    done = []
    for credential, data in zip(credentials, parts, strict=True):
        response = client.put(credential["url"], content=data, headers=credential["headers"])
        assert response.status_code == 200, response.text
        done.append({"part_number": credential["part_number"], "etag": response.headers["ETag"]})
    return done


def test_create_put_complete(client: TestClient, jail: Path) -> None:
    parts = [os.urandom(MiB), os.urandom(MiB), b"tail"]
    answer = create(client, "1/run/artifacts/model", {"path": "/home/me/w ü.bin", "num_parts": 3})
    assert [c["part_number"] for c in answer["credentials"]] == [1, 2, 3]
    assert answer["credentials"][0]["url"].startswith(f"http://testserver{API}/mpu/parts/")
    done = put_parts(client, answer["credentials"], parts)
    target = jail / "root/1/run/artifacts/model/w ü.bin"
    assert not target.exists()  # nothing under the name before completion
    body = {"path": "/home/me/w ü.bin", "upload_id": answer["upload_id"], "parts": done}
    response = client.post(f"{API}/mpu/complete/1/run/artifacts/model", json=body)
    assert response.status_code == 200 and response.json() == {}
    assert target.read_bytes() == b"".join(parts)
    assert list((jail / "root/.shipyard-uploads").iterdir()) == []
    listing = client.get(f"{API}/artifacts").json()
    assert listing == {"files": [{"path": "1", "is_dir": True}]}  # the upload area is hidden


def test_a_windows_client_path_names_the_file(client: TestClient, jail: Path) -> None:
    answer = create(client, "d", {"path": "C:\\Users\\me\\model.bin", "num_parts": 1})
    done = put_parts(client, answer["credentials"], [b"weights"])
    body = {"path": "C:\\Users\\me\\model.bin", "upload_id": answer["upload_id"], "parts": done}
    assert client.post(f"{API}/mpu/complete/d", json=body).status_code == 200
    assert (jail / "root/d/model.bin").read_bytes() == b"weights"


def test_abort_drops_the_parts(client: TestClient, jail: Path) -> None:
    answer = create(client, "d", {"path": "f.bin", "num_parts": 2})
    done = put_parts(client, answer["credentials"][:1], [b"part one"])
    body = {"path": "f.bin", "upload_id": answer["upload_id"]}
    assert client.post(f"{API}/mpu/abort/d", json=body).json() == {}
    response = client.post(f"{API}/mpu/complete/d", json={**body, "parts": done})
    assert response.status_code == 404
    assert not (jail / "root/d/f.bin").exists()
    assert list((jail / "root/.shipyard-uploads").iterdir()) == []


BAD_BODIES = [
    ("create", {"num_parts": 1}),
    ("create", {"path": "f", "num_parts": 0}),
    ("create", {"path": "f", "num_parts": 10_001}),
    ("create", {"path": "f", "num_parts": "many"}),
    ("create", {"path": "f", "num_parts": True}),
    ("create", {"path": "x/..", "num_parts": 1}),
    ("create", {"path": "%2e%2e", "num_parts": 1}),
    ("create", {"path": "dir/", "num_parts": 1}),
    ("complete", {"path": "f", "upload_id": "0" * 32, "parts": "all"}),
    ("complete", {"path": "f", "upload_id": "0" * 32, "parts": [{"part_number": 1}]}),
    ("complete", {"path": "f", "parts": [{"part_number": 1, "etag": "e"}]}),
    ("abort", {"path": "f", "upload_id": "../../etc"}),
]


@pytest.mark.parametrize(("step", "body"), BAD_BODIES)
def test_bad_bodies_are_400(client: TestClient, jail: Path, step: str, body: Any) -> None:
    response = client.post(f"{API}/mpu/{step}/d", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert list((jail / "root").iterdir()) in ([], [jail / "root/.shipyard-uploads"])


def test_malformed_and_oversized_json(client: TestClient) -> None:
    assert client.post(f"{API}/mpu/create/d", content=b"{nope").status_code == 400
    huge = b'{"path": "' + b"x" * (5 * MiB) + b'"}'
    response = client.post(f"{API}/mpu/create/d", content=huge)
    assert response.status_code == 400 and "larger than" in response.json()["message"]


@pytest.mark.parametrize(
    "attack", ["..%2fsecret.txt", "%252e%252e%252fsecret.txt", "x%5c..%5c..%5csecret.txt", "a;b"]
)
@pytest.mark.parametrize("step", ["create", "complete", "abort", "parts"])
def test_route_paths_are_checked_first(
    client: TestClient, jail: Path, attack: str, step: str
) -> None:
    body = {"path": "secret.txt", "upload_id": "0" * 32, "num_parts": 1, "parts": []}
    if step == "parts":
        response = client.put(
            f"{API}/mpu/parts/{attack}?upload_id={'0' * 32}&part_number=1", content=b"pwned"
        )
    else:
        response = client.post(f"{API}/mpu/{step}/{attack}", json=body)
    assert response.status_code == 400 and response.json()["message"].startswith("Invalid path")
    assert (jail / "secret.txt").read_text() == "top secret"
    assert list((jail / "root").iterdir()) == []


def test_part_route_checks_its_query(client: TestClient) -> None:
    answer = create(client, "d", {"path": "f.bin", "num_parts": 1})
    url = f"{API}/mpu/parts/d/f.bin"
    cases = [
        (f"{url}?upload_id={answer['upload_id']}&part_number=2", 400),  # beyond num_parts
        (f"{url}?upload_id={answer['upload_id']}", 400),
        (f"{url}?upload_id={'f' * 32}&part_number=1", 404),  # no such upload
        (f"{API}/mpu/parts/d/other.bin?upload_id={answer['upload_id']}&part_number=1", 404),
    ]
    for target, status in cases:
        assert client.put(target, content=b"x").status_code == status, target


def test_the_upload_area_is_out_of_reach(client: TestClient) -> None:
    answer = create(client, "d", {"path": "f.bin", "num_parts": 1})
    meta = f".shipyard-uploads/{answer['upload_id']}/upload.json"
    assert client.get(f"{API}/artifacts/{meta}").status_code == 400
    assert client.put(f"{API}/artifacts/{meta}", content=b"{}").status_code == 400
    assert client.get(f"{API}/artifacts", params={"path": ".shipyard-uploads"}).status_code == 400
    assert client.delete(f"{API}/artifacts/.shipyard-uploads").status_code == 400


class SinglePutOnly:
    """A repository without the multipart half (for MLflow's client: fall back to one PUT)."""

    def __init__(self, root: Path) -> None:
        self._inner = LocalArtifactRepository(root)

    def __getattr__(self, name: str) -> Any:
        if name in ("put_stream", "open_stream", "info", "exists", "list", "delete"):
            return getattr(self._inner, name)
        raise AttributeError(name)


def test_without_multipart_the_client_is_told_to_fall_back(
    jail: Path, tmp_store: TrackingService
) -> None:
    repo: Any = SinglePutOnly(jail / "root")
    with TestClient(app_over(repo, tmp_store)) as client:
        for step in ("create", "complete", "abort"):
            body = {
                "path": "f.bin",
                "num_parts": 1,
                "upload_id": "x",
                "parts": [{"part_number": 1, "etag": "e"}],
            }
            response = client.post(f"{API}/mpu/{step}/d", json=body)
            assert response.status_code == 501, response.text
            assert response.json()["message"].startswith(
                "Multipart upload is not supported for the current artifact repository"
            )


def test_server_info_tells_the_truth(jail: Path, tmp_store: TrackingService) -> None:
    repo = LocalArtifactRepository(jail / "root")

    def info(app: FastAPI) -> bool:
        with TestClient(app) as client:
            flag: bool = client.get("/api/3.0/mlflow/server-info").json()[
                "multipart_uploads_enabled"
            ]
            return flag

    root = str(jail / "root")
    assert info(app_over(repo, tmp_store, artifact_root=root)) is True
    assert info(app_over(repo, tmp_store, artifact_root=root, serve_artifacts=False)) is False
    no_proxy = create_app(Settings(artifact_root=root), tmp_store, extra_routers=())
    assert info(no_proxy) is False


# -- MLflow's client, end to end -------------------------------------------------------------------


class CountingRepo(LocalArtifactRepository):
    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.parts: list[int] = []

    def put_part(self, path: str, upload_id: str, part_number: int, chunks: Iterable[bytes]) -> str:
        self.parts.append(part_number)
        return super().put_part(path, upload_id, part_number, chunks)


@pytest.fixture
def mlflow_multipart(monkeypatch: pytest.MonkeyPatch) -> None:
    """Multipart from 1 MiB in 1 MiB parts; the switch itself is left to server-info."""
    monkeypatch.delenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", raising=False)
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", str(MiB))
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", str(MiB))
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")


def test_mlflow_client_uploads_in_parts_to_a_local_folder(
    jail: Path,
    tmp_store: TrackingService,
    serve: Callable[[FastAPI], str],
    mlflow_multipart: None,
) -> None:
    from mlflow.store.artifact.mlflow_artifacts_repo import MlflowArtifactsRepository

    repo = CountingRepo(jail / "root")
    url = serve(app_over(repo, tmp_store, artifact_root=str(jail / "root")))
    data = os.urandom(3 * MiB + 123)
    (jail / "big file.bin").write_bytes(data)
    client = MlflowArtifactsRepository("mlflow-artifacts:/1/r/artifacts", tracking_uri=url)
    client.log_artifact(str(jail / "big file.bin"), "models")
    assert sorted(repo.parts) == [1, 2, 3, 4]
    assert (jail / "root/1/r/artifacts/models/big file.bin").read_bytes() == data
    small = jail / "small.txt"
    small.write_text("below the threshold: one PUT")
    client.log_artifact(str(small))
    assert len(repo.parts) == 4
    (jail / "out").mkdir()
    out = client.download_artifacts("models/big file.bin", dst_path=str(jail / "out"))
    assert Path(out).read_bytes() == data


def test_mlflow_client_uploads_parts_straight_to_s3(
    tmp_store: TrackingService,
    serve: Callable[[FastAPI], str],
    moto_server: Any,
    mlflow_multipart: None,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from mlflow.store.artifact.mlflow_artifacts_repo import MlflowArtifactsRepository

    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", str(5 * MiB))  # S3's smallest
    bucket = moto_server.new_bucket()
    root = f"s3://{bucket}/served"
    settings = Settings(artifact_root=root, s3=moto_server.settings)
    from shipyard.server._artifact_proxy import create_router

    app = create_app(settings, tmp_store, extra_routers=(create_router(settings),))
    url = serve(app)
    data = os.urandom(11 * MiB)
    (tmp_path / "weights.bin").write_bytes(data)
    client = MlflowArtifactsRepository("mlflow-artifacts:/1/r/artifacts", tracking_uri=url)
    client.log_artifact(str(tmp_path / "weights.bin"))
    assert moto_server.keys(bucket) == {"served/1/r/artifacts/weights.bin": data}
    (tmp_path / "out").mkdir()
    out = client.download_artifacts("weights.bin", dst_path=str(tmp_path / "out"))
    assert Path(out).read_bytes() == data
