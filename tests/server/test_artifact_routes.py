"""The mlflow-artifacts proxy routes, on an app built from ``artifacts_router`` alone.

Three layers of evidence: TestClient for the HTTP contract, raw bytes on a socket for attack paths
no HTTP library would send unnormalised, and MLflow's own artifact repository against a live
uvicorn for compatibility.
"""

from __future__ import annotations

import http.client
import os
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi import FastAPI, Request, Response
from fastapi.testclient import TestClient
from starlette.types import ASGIApp

from shipyard.artifacts import LocalArtifactRepository, S3ArtifactRepository
from shipyard.errors import ShipyardError
from shipyard.server._artifact_proxy import PROXY_PREFIXES, artifacts_router, create_router
from shipyard.settings import Settings

API = "/api/2.0/mlflow-artifacts"
MiB = 1024 * 1024


def build_app(root: Path) -> FastAPI:
    app = FastAPI()

    @app.exception_handler(ShipyardError)
    async def _error(_request: Request, exc: ShipyardError) -> Response:  # the app's one handler
        return Response(orjson.dumps(exc.to_dict()), exc.http_status, media_type="application/json")

    app.include_router(artifacts_router(LocalArtifactRepository(root)))
    return app


@pytest.fixture
def jail(tmp_path: Path) -> Path:
    """``tmp_path/root`` is the artifact root; ``tmp_path/secret.txt`` must never be reached."""
    (tmp_path / "root").mkdir()
    (tmp_path / "secret.txt").write_text("top secret")
    return tmp_path


@pytest.fixture
def client(jail: Path) -> Iterator[TestClient]:
    with TestClient(build_app(jail / "root")) as test_client:
        yield test_client


def outside(jail: Path) -> dict[str, bytes]:
    """Everything outside the root, to prove an attack touched nothing."""
    return {
        str(p.relative_to(jail)): p.read_bytes()
        for p in sorted(jail.rglob("*"))
        if p.is_file() and "root" not in p.relative_to(jail).parts[:1]
    }


# -- the contract ---------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", PROXY_PREFIXES)
def test_upload_list_download_delete(client: TestClient, jail: Path, prefix: str) -> None:
    body = os.urandom(3 * MiB + 17)
    url = f"{prefix}/artifacts/1/run/artifacts/dir/model file ✓.bin"
    put = client.put(url, content=body, headers={"Content-Type": "application/octet-stream"})
    assert put.status_code == 200 and put.json() == {}
    assert (jail / "root/1/run/artifacts/dir/model file ✓.bin").read_bytes() == body

    listing = client.get(f"{prefix}/artifacts", params={"path": "1/run/artifacts"})
    assert listing.json() == {"files": [{"path": "dir", "is_dir": True}]}
    listing = client.get(f"{prefix}/artifacts", params={"path": "1/run/artifacts/dir"})
    assert listing.json() == {
        "files": [{"path": "model file ✓.bin", "is_dir": False, "file_size": len(body)}]
    }

    got = client.get(url)
    assert got.status_code == 200 and got.content == body
    assert got.headers["content-length"] == str(len(body))

    assert client.delete(f"{prefix}/artifacts/1/run/artifacts/dir").json() == {}
    assert client.get(url).status_code == 404
    assert not (jail / "root/1/run/artifacts/dir").exists()


def test_listing_a_file_or_nothing_is_empty(client: TestClient) -> None:
    client.put(f"{API}/artifacts/a/f.txt", content=b"x")
    assert client.get(f"{API}/artifacts", params={"path": "a/f.txt"}).json() == {"files": []}
    assert client.get(f"{API}/artifacts", params={"path": "nope"}).json() == {"files": []}
    assert client.get(f"{API}/artifacts").json() == {"files": [{"path": "a", "is_dir": True}]}


def test_missing_file_is_404(client: TestClient) -> None:
    for url in (f"{API}/artifacts/nope.txt", f"{API}/artifacts/"):
        response = client.get(url)
        assert response.status_code == 404
        assert response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_content_types_never_let_a_page_run(client: TestClient) -> None:
    client.put(f"{API}/artifacts/report.html", content=b"<script>alert(1)</script>")
    client.put(f"{API}/artifacts/data.json", content=b"{}")
    page = client.get(f"{API}/artifacts/report.html")
    assert page.headers["content-type"].startswith("text/plain")
    assert page.headers["x-content-type-options"] == "nosniff"
    assert client.get(f"{API}/artifacts/data.json").headers["content-type"] == "application/json"


def test_presigned_downloads_say_not_implemented(client: TestClient) -> None:
    response = client.get(f"{API}/presigned/1/run/f.bin")
    assert response.status_code == 501 and response.json()["error_code"] == "NOT_IMPLEMENTED"


def test_root_cannot_be_written_or_deleted(client: TestClient, jail: Path) -> None:
    client.put(f"{API}/artifacts/keep.txt", content=b"1")
    assert client.put(f"{API}/artifacts/", content=b"x").status_code == 400
    assert client.delete(f"{API}/artifacts/").status_code == 400
    assert (jail / "root/keep.txt").exists()


@pytest.mark.parametrize("fsync", [True, False])
def test_create_router_honours_artifact_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fsync: bool
) -> None:
    calls: list[int] = []
    monkeypatch.setattr(os, "fsync", calls.append)
    app = FastAPI()
    app.include_router(create_router(Settings(artifact_root=str(tmp_path), artifact_fsync=fsync)))
    with TestClient(app) as test_client:
        assert test_client.put(f"{API}/artifacts/x/y.txt", content=b"hi").status_code == 200
    assert len(calls) == (2 if fsync else 0)


def test_create_router_serves_the_settings_root(tmp_path: Path) -> None:
    app = FastAPI()
    app.include_router(create_router(Settings(artifact_root=str(tmp_path))))
    with TestClient(app) as test_client:
        assert test_client.put(f"{API}/artifacts/x/y.txt", content=b"hi").status_code == 200
    assert (tmp_path / "x/y.txt").read_bytes() == b"hi"


# -- attacks (security.md): 400 "Invalid path", and nothing outside the root touched -------------

ENCODED_ATTACKS = [
    "..%2fsecret.txt",
    "..%2Fsecret.txt",
    "%2e%2e%2fsecret.txt",
    "%2e%2e/secret.txt",
    "%252e%252e%252fsecret.txt",
    "x/%252e%252e%252f%252e%252e%252fsecret.txt",
    "..%252fsecret.txt",
    "..%5csecret.txt",
    "%5c..%5csecret.txt",
    "x\\..\\..\\secret.txt",
    "x/..%5c..%5csecret.txt",
    "%2fetc%2fpasswd",
    "C:%5cWindows%5cwin.ini",
    "C:/secret.txt",
    "secret%00.txt",
    "x%23/..%2f..%2fsecret.txt",
    "x;/..%2f..%2fsecret.txt",
    "x/..;/..;/secret.txt",
    "file:%2f%2f%2fetc%2fpasswd",
    "%EF%BC%8E%EF%BC%8E%EF%BC%8Fsecret.txt",
]


@pytest.mark.parametrize("attack", ENCODED_ATTACKS)
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "LIST", "MPU"])
def test_attacks_are_rejected(client: TestClient, jail: Path, attack: str, method: str) -> None:
    before = outside(jail)
    if method == "LIST":
        response = client.get(f"{API}/artifacts?path={attack}")
    elif method == "MPU":
        response = client.post(f"{API}/mpu/create/{attack}", json={"path": "f", "num_parts": 1})
    else:
        response = client.request(method, f"{API}/artifacts/{attack}", content=b"pwned")
    assert response.status_code == 400, response.text
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert response.json()["message"].startswith("Invalid path")
    assert outside(jail) == before
    assert list((jail / "root").iterdir()) == []


@pytest.fixture(scope="module")
def s3_proxy(moto_server: Any) -> Iterator[tuple[TestClient, str, dict[str, bytes]]]:
    """A proxy over ``s3://<bucket>/root``, with objects beside and inside the root."""
    bucket = moto_server.new_bucket()
    client = moto_server.client()
    client.put_object(Bucket=bucket, Key="secret.txt", Body=b"top secret")
    client.put_object(Bucket=bucket, Key="root/keep.txt", Body=b"keep")
    client.put_object(Bucket=bucket, Key="rootless/x", Body=b"sibling prefix")
    app = FastAPI()

    @app.exception_handler(ShipyardError)
    async def _error(_request: Request, exc: ShipyardError) -> Response:
        return Response(orjson.dumps(exc.to_dict()), exc.http_status, media_type="application/json")

    app.include_router(artifacts_router(S3ArtifactRepository(bucket, "root", moto_server.settings)))
    with TestClient(app) as test_client:
        yield test_client, bucket, moto_server.keys(bucket)


@pytest.mark.parametrize("attack", ENCODED_ATTACKS)
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "LIST", "MPU"])
def test_attacks_on_s3_touch_nothing(
    s3_proxy: tuple[TestClient, str, dict[str, bytes]], moto_server: Any, attack: str, method: str
) -> None:
    client, bucket, before = s3_proxy
    if method == "LIST":
        response = client.get(f"{API}/artifacts?path={attack}")
    elif method == "MPU":
        response = client.post(f"{API}/mpu/create/{attack}", json={"path": "f", "num_parts": 1})
    else:
        response = client.request(method, f"{API}/artifacts/{attack}", content=b"pwned")
    assert response.status_code == 400, response.text
    assert response.json()["message"].startswith("Invalid path")
    assert moto_server.keys(bucket) == before
    assert moto_server.client().list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_planted_symlink_is_not_followed(client: TestClient, jail: Path) -> None:
    os.symlink(jail / "secret.txt", jail / "root" / "link.txt")
    os.symlink(jail, jail / "root" / "linkdir")
    before = outside(jail)
    assert client.get(f"{API}/artifacts/link.txt").status_code == 400
    assert client.put(f"{API}/artifacts/linkdir/secret.txt", content=b"pwned").status_code == 400
    assert client.get(f"{API}/artifacts", params={"path": "linkdir"}).status_code == 400
    assert client.get(f"{API}/artifacts").json() == {"files": []}
    assert outside(jail) == before


# -- a live server: raw request lines and MLflow's own client -------------------------------------


@pytest.fixture
def live(jail: Path, serve: Callable[[ASGIApp], str]) -> str:
    return serve(build_app(jail / "root"))


def raw(url: str, method: str, target: str, body: bytes = b"") -> int:
    """Send ``target`` byte for byte (no client-side normalisation of ``../``)."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        return conn.getresponse().status
    finally:
        conn.close()


FILE_TARGETS = [
    "/artifacts/../../secret.txt",
    "/artifacts/x/../../../secret.txt",
    "/artifacts/..%2f..%2fsecret.txt",
    "/artifacts/%252e%252e%252f%252e%252e%252fsecret.txt",
    "/artifacts/\\..\\..\\secret.txt",
    "/artifacts//etc/passwd",
]
LIST_TARGETS = ["/artifacts?path=../..", "/artifacts?path=%252e%252e%252f", "/artifacts?path=/etc"]
RAW_CASES = [(m, t) for t in FILE_TARGETS for m in ("GET", "PUT", "DELETE")] + [
    ("GET", t) for t in LIST_TARGETS
]


@pytest.mark.parametrize(("method", "target"), RAW_CASES)
def test_raw_traversal_on_the_wire(live: str, jail: Path, method: str, target: str) -> None:
    before = outside(jail)
    assert raw(live, method, API + target, b"pwned") == 400
    assert outside(jail) == before


def test_mlflow_client_round_trip(live: str, tmp_path: Path) -> None:
    from mlflow.store.artifact.mlflow_artifacts_repo import MlflowArtifactsRepository

    src = tmp_path / "src"
    (src / "nested" / "deeper").mkdir(parents=True)
    (src / "hello world.txt").write_text("hello")
    (src / "nested" / "ünï.json").write_text('{"a": 1}')
    (src / "nested" / "deeper" / "big.bin").write_bytes(os.urandom(5 * MiB))
    repo = MlflowArtifactsRepository("mlflow-artifacts:/1/abc/artifacts", tracking_uri=live)
    repo.log_artifact(str(src / "hello world.txt"))
    repo.log_artifacts(str(src / "nested"), "nested")

    top = [(f.path, f.is_dir, f.file_size) for f in repo.list_artifacts()]
    assert top == [("hello world.txt", False, 5), ("nested", True, None)]
    assert [f.path for f in repo.list_artifacts("nested")] == ["nested/deeper", "nested/ünï.json"]
    assert repo.list_artifacts("hello world.txt") == []

    (tmp_path / "out").mkdir()
    (tmp_path / "one").mkdir()
    out = Path(repo.download_artifacts("nested", dst_path=str(tmp_path / "out")))
    assert (out / "deeper" / "big.bin").read_bytes() == (src / "nested/deeper/big.bin").read_bytes()
    assert (out / "ünï.json").read_text() == '{"a": 1}'
    single = repo.download_artifacts("hello world.txt", dst_path=str(tmp_path / "one"))
    assert Path(single).read_text() == "hello"

    repo.delete_artifacts("nested")
    assert [f.path for f in repo.list_artifacts()] == ["hello world.txt"]


def test_mlflow_download_of_a_missing_file_fails(live: str, tmp_path: Path) -> None:
    from mlflow.exceptions import MlflowException
    from mlflow.store.artifact.mlflow_artifacts_repo import MlflowArtifactsRepository

    repo = MlflowArtifactsRepository("mlflow-artifacts:/1/abc/artifacts", tracking_uri=live)
    with pytest.raises((MlflowException, OSError)):
        repo.download_artifacts("nope.txt", dst_path=str(tmp_path))


@pytest.mark.slow
def test_large_bodies_stream_in_flat_memory(live: str, jail: Path) -> None:
    """128 MiB up and down through the proxy; client and server share this process, so a body
    held in memory on either side would show in the traced peak."""
    import httpx

    total, block = 128, os.urandom(MiB)
    url = f"{live}{API}/artifacts/big/blob.bin"
    tracemalloc.start()
    try:
        with httpx.Client(timeout=60) as http:
            headers = {"Content-Length": str(total * MiB)}
            put = http.put(url, content=(block for _ in range(total)), headers=headers)
            assert put.status_code == 200, put.text
            _, upload_peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            size = 0
            with http.stream("GET", url) as response:
                for chunk in response.iter_bytes():
                    size += len(chunk)
            _, download_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size == total * MiB == (jail / "root/big/blob.bin").stat().st_size
    assert upload_peak < 32 * MiB and download_peak < 32 * MiB, (upload_peak, download_peak)
