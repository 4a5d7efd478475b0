"""The SDK's transfers: over the proxy (TestClient), in-process, and to local folders."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from fastapi import FastAPI, Request, Response
from fastapi.testclient import TestClient

from shipyard.artifacts import (
    FileInfo,
    LocalArtifactRepository,
    download_artifacts,
    list_artifacts,
    upload_bytes,
    upload_directory,
    upload_file,
)
from shipyard.errors import (
    FeatureNotImplemented,
    InvalidParameter,
    InvalidPath,
    NotFound,
    ShipyardError,
)
from shipyard.server._artifact_proxy import artifacts_router

BASE = "http://testserver"
RUN = "mlflow-artifacts:/1/run-1/artifacts"


@pytest.fixture
def server_root(tmp_path: Path) -> Path:
    return tmp_path / "server"


@pytest.fixture
def http(server_root: Path) -> Iterator[TestClient]:
    app = FastAPI()

    @app.exception_handler(ShipyardError)
    async def _error(_request: Request, exc: ShipyardError) -> Response:
        return Response(orjson.dumps(exc.to_dict()), exc.http_status, media_type="application/json")

    app.include_router(artifacts_router(LocalArtifactRepository(server_root)))
    with TestClient(app) as client:
        yield client


@pytest.fixture
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    (folder / "sub dir").mkdir(parents=True)
    (folder / "a.txt").write_text("alpha")
    (folder / "sub dir" / "ünï.bin").write_bytes(os.urandom(70_000))
    return folder


def test_over_http(http: TestClient, server_root: Path, source: Path, tmp_path: Path) -> None:
    assert upload_file(BASE, RUN, source / "a.txt", "docs", http=http) == "docs/a.txt"
    assert (server_root / "1/run-1/artifacts/docs/a.txt").read_text() == "alpha"
    uploaded = upload_directory(BASE, RUN, source, "all", http=http)
    assert uploaded == ["all/a.txt", "all/sub dir/ünï.bin"]
    upload_bytes(BASE, RUN, b'{"k": 1}', "meta/config.json", http=http)

    assert list_artifacts(BASE, RUN, http=http) == [
        FileInfo("all", True, None),
        FileInfo("docs", True, None),
        FileInfo("meta", True, None),
    ]
    assert list_artifacts(BASE, RUN, "all/sub dir", http=http) == [
        FileInfo("all/sub dir/ünï.bin", False, 70_000)
    ]
    out = download_artifacts(BASE, RUN, "all", tmp_path / "out", http=http)
    assert out == (tmp_path / "out" / "all").resolve()
    assert (out / "sub dir" / "ünï.bin").read_bytes() == (source / "sub dir/ünï.bin").read_bytes()
    single = download_artifacts(BASE, RUN, "meta/config.json", tmp_path / "one", http=http)
    assert single.read_bytes() == b'{"k": 1}'


def test_http_artifact_uri_form(http: TestClient, server_root: Path, source: Path) -> None:
    uri = f"{BASE}/api/2.0/mlflow-artifacts/artifacts/7/r/artifacts"
    upload_file(None, uri, source / "a.txt", http=http)
    assert (server_root / "7/r/artifacts/a.txt").read_text() == "alpha"


def test_whole_root_download(http: TestClient, source: Path, tmp_path: Path) -> None:
    upload_directory(BASE, RUN, source, http=http, max_workers=1)
    out = download_artifacts(BASE, RUN, "", tmp_path / "out", http=http)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "a.txt",
        "sub dir/ünï.bin",
    ]


def test_missing_download_raises_not_found(http: TestClient, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        download_artifacts(BASE, RUN, "nope.txt", tmp_path, http=http)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "uri_of", [lambda p: str(p), lambda p: p.as_uri()], ids=["plain path", "file uri"]
)
def test_local_uris(uri_of: Callable[[Path], str], source: Path, tmp_path: Path) -> None:
    uri = uri_of(tmp_path / "local-run")
    upload_directory(None, uri, source)
    assert (tmp_path / "local-run" / "sub dir" / "ünï.bin").exists()
    assert [f.path for f in list_artifacts(None, uri)] == ["a.txt", "sub dir"]
    out = download_artifacts(None, uri, "sub dir", tmp_path / "dl")
    assert (out / "ünï.bin").read_bytes() == (source / "sub dir/ünï.bin").read_bytes()


def test_in_process_server_repository(source: Path, tmp_path: Path) -> None:
    repo = LocalArtifactRepository(tmp_path / "root")
    upload_file(repo, RUN, source / "a.txt")
    assert (tmp_path / "root/1/run-1/artifacts/a.txt").read_text() == "alpha"
    assert list_artifacts(repo, RUN) == [FileInfo("a.txt", False, 5)]


def test_unsupported_targets(source: Path) -> None:
    with pytest.raises(FeatureNotImplemented, match="'gs'"):
        upload_file(None, "gs://bucket/run", source / "a.txt")
    with pytest.raises(InvalidParameter, match="tracking server"):
        upload_file(None, RUN, source / "a.txt")
    with pytest.raises(InvalidPath):
        upload_file(None, "mlflow-artifacts:/1/../../etc", source / "a.txt")
    with pytest.raises(InvalidPath):
        upload_file(None, "file:", source / "a.txt")
    with pytest.raises(InvalidParameter, match="not a file"):
        upload_file(None, "/tmp/x", source)
    with pytest.raises(InvalidPath):
        upload_file(None, "/tmp/x", source / "a.txt", "../../etc")


# -- broken transfers and hostile servers (httpx.MockTransport) -----------------------------------


def mock(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))


def short_then_whole(failures: int) -> Callable[[httpx.Request], httpx.Response]:
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/artifacts"):
            return httpx.Response(200, json={"files": []})
        calls["n"] += 1
        body = b"0123456789"
        if calls["n"] <= failures:  # the connection dropped after 4 of 10 bytes
            return httpx.Response(200, headers={"Content-Length": "10"}, content=body[:4])
        return httpx.Response(200, content=body)

    return handler


def test_a_short_download_is_retried(tmp_path: Path) -> None:
    with mock(short_then_whole(failures=2)) as client:
        path = download_artifacts(BASE, RUN, "f.bin", tmp_path, http=client)
    assert path.read_bytes() == b"0123456789"
    assert os.listdir(tmp_path) == ["f.bin"]


def test_a_download_that_keeps_breaking_leaves_no_file(tmp_path: Path) -> None:
    with mock(short_then_whole(failures=99)) as client, pytest.raises(ShipyardError, match="3 t"):
        download_artifacts(BASE, RUN, "f.bin", tmp_path, http=client)
    assert os.listdir(tmp_path) == []


def test_a_hostile_listing_cannot_write_outside_dst(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"files": [{"path": "../../escape", "is_dir": False}]})

    dst = tmp_path / "dst"
    with mock(handler) as client, pytest.raises(InvalidPath):
        download_artifacts(BASE, RUN, "", dst, http=client)
    assert not (tmp_path / "escape").exists() and not dst.exists()


def test_server_errors_come_back_as_shipyard_errors(tmp_path: Path, source: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error_code": "INVALID_PARAMETER_VALUE", "message": "no"})

    with mock(handler) as client, pytest.raises(InvalidParameter, match="no"):
        upload_file(BASE, RUN, source / "a.txt", http=client)


# -- progress --------------------------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.total = -1
        self.moved: list[int] = []

    def start(self, total_bytes: int) -> None:
        self.total = total_bytes

    def advance(self, nbytes: int) -> None:
        self.moved.append(nbytes)


def test_progress_hears_the_total_and_every_chunk(
    http: TestClient, source: Path, tmp_path: Path
) -> None:
    up = Recorder()
    upload_directory(BASE, RUN, source, http=http, progress=up)
    assert up.total == 5 + 70_000 and sum(up.moved) == up.total
    down = Recorder()
    download_artifacts(BASE, RUN, "", tmp_path / "out", http=http, progress=down)
    assert down.total == up.total and sum(down.moved) == down.total
    one = Recorder()  # a single file: the total comes from its folder's listing
    download_artifacts(BASE, RUN, "sub dir/ünï.bin", tmp_path / "one", http=http, progress=one)
    assert one.total == 70_000 == sum(one.moved)


def test_a_retried_download_takes_back_the_broken_bytes(tmp_path: Path) -> None:
    progress = Recorder()
    with mock(short_then_whole(failures=1)) as client:
        download_artifacts(BASE, RUN, "f.bin", tmp_path, http=client, progress=progress)
    assert progress.moved == [4, -4, 10]


def test_a_short_body_is_caught_by_the_listed_size(tmp_path: Path) -> None:
    """No Content-Length (a chunked response): the size the listing announced is checked."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/artifacts"):
            return httpx.Response(
                200, json={"files": [{"path": "f.bin", "is_dir": False, "file_size": 10}]}
            )
        return httpx.Response(200, content=iter([b"0123"]))  # streamed: no length header

    with mock(handler) as client, pytest.raises(ShipyardError, match="4 of 10"):
        download_artifacts(BASE, RUN, "", tmp_path / "dst", http=client)
    assert not (tmp_path / "dst" / "f.bin").exists()
