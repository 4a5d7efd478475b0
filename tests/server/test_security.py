"""MLflow's server CVE history, replayed against the tracking routes (see reference/security.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shipyard.artifacts import S3ArtifactRepository
from shipyard.errors import InvalidPath
from shipyard.server import create_app
from shipyard.server._artifacts import run_repository
from shipyard.server._experiments import check_artifact_location
from shipyard.settings import Settings
from shipyard.store.sql import SqlStore
from shipyard.tracking import TrackingService

API = "/api/2.0/mlflow"


@pytest.fixture
def served(tmp_path: Path) -> tuple[TestClient, Path]:
    """An app that serves artifacts (mlflow-artifacts:/ locations) from ``tmp_path/artifacts``."""
    root = tmp_path / "artifacts"
    settings = Settings(artifact_root=str(root))
    store = SqlStore(f"sqlite:///{tmp_path / 'db.sqlite'}", "mlflow-artifacts:/")
    app = create_app(settings, TrackingService(store), extra_routers=())
    return TestClient(app), root


@pytest.mark.parametrize(
    "location",
    [
        "http:///#/../../etc/",  # CVE-2023-6909
        "file:///tmp/a#frag",
        "s3://bucket/a/../../b",
        "/tmp/x/../../etc",
        "C:\\x\\..\\..\\windows",  # CVE-2023-6977
        "/tmp/%252e%252e/etc",  # double URL-encoded ..
        "/tmp/x;params",  # CVE-2024-1593
        "runs:/abc/model",
        "/tmp/\x00evil",
        "x" * 5000,
    ],
)
def test_experiment_artifact_location_cannot_escape(
    served: tuple[TestClient, Path], location: str
) -> None:
    client, _ = served
    body = {"name": "evil", "artifact_location": location}
    response = client.post(f"{API}/experiments/create", json=body)
    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_ordinary_artifact_locations_are_kept() -> None:
    for location in ("s3://bucket/path", "/data/mlruns/7", "file:///data/x", "gs://b/p"):
        assert check_artifact_location(location) == location


@pytest.mark.parametrize(
    "path",
    ["../x", "a/../../x", "..%2f..%2fetc/passwd", "%252e%252e%252fetc", "/etc/passwd", "a\\..\\b",
     "a#b", "C:/x", "a/\x00"],
)  # fmt: skip
def test_artifact_list_path_traversal_is_refused(
    served: tuple[TestClient, Path], path: str
) -> None:
    client, root = served
    (root.parent / "secret.txt").write_text("no")
    run = client.post(f"{API}/runs/create", json={"experiment_id": "0"}).json()["run"]
    response = client.get(
        f"{API}/artifacts/list", params={"run_id": run["info"]["run_id"], "path": path}
    )
    assert response.status_code == 400
    assert response.json()["message"].startswith("Invalid path")


def test_proxied_run_folder_stays_under_the_artifact_root(tmp_path: Path) -> None:
    settings = Settings(artifact_root=str(tmp_path))
    found = run_repository("mlflow-artifacts:/1/abc/artifacts", settings)
    assert found is not None and found[1] == "1/abc/artifacts"
    with pytest.raises(InvalidPath):
        run_repository("mlflow-artifacts:/1/../../etc", settings)
    assert run_repository("gs://bucket/1/abc", settings) is None  # no repository for it
    s3 = run_repository("s3://bucket/1/abc", settings)
    assert s3 is not None and isinstance(s3[0], S3ArtifactRepository)
    with pytest.raises(InvalidPath):
        run_repository("s3://bucket/1/%2e%2e/%2e%2e/x", settings)


@pytest.mark.parametrize(
    "run_id", ["../../etc/passwd", "a/b", "..", "a" * 300, "", "%2e%2e", "abc\x00", "-abc"]
)
def test_hostile_run_ids_are_400_or_404(served: tuple[TestClient, Path], run_id: str) -> None:
    client, _ = served
    for response in (
        client.get(f"{API}/runs/get", params={"run_id": run_id}),
        client.get(f"{API}/artifacts/list", params={"run_id": run_id}),
        client.post(f"{API}/runs/log-batch", json={"run_id": run_id, "metrics": []}),
        client.get(f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": "m"}),
    ):
        assert response.status_code in (400, 404), response.text
        codes = ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST")
        assert response.json()["error_code"] in codes


@pytest.mark.parametrize(
    ("experiment_id", "status"),
    [("9" * 40, 404), ("-1", 404), (str(2**31), 404)]  # numbers no experiment has
    + [(i, 400) for i in ("1e3", "0x10", "1_0", "\u0661", " 1", "../1")],  # not numbers
)
def test_hostile_experiment_ids_are_refused(
    served: tuple[TestClient, Path], experiment_id: str, status: int
) -> None:
    """Only ASCII decimal digits name an experiment (``int()`` takes more: ``1_0``, other
    scripts' digits, spaces); other text is a bad id, as MLflow's server answers it."""
    client, _ = served
    response = client.get(f"{API}/experiments/get", params={"experiment_id": experiment_id})
    assert response.status_code == status
    code = "RESOURCE_DOES_NOT_EXIST" if status == 404 else "INVALID_PARAMETER_VALUE"
    assert response.json()["error_code"] == code
    response = client.post(f"{API}/runs/create", json={"experiment_id": experiment_id})
    assert response.status_code == status


def test_huge_numbers_are_400(served: tuple[TestClient, Path]) -> None:
    client, _ = served
    run_id = client.post(f"{API}/runs/create", json={"experiment_id": "0"}).json()["run"]["info"][
        "run_id"
    ]
    for body in (
        {"run_id": run_id, "key": "m", "value": 1, "timestamp": 10**30},
        {"run_id": run_id, "key": "m", "value": 1, "timestamp": 1, "step": -(2**64)},
        {"run_id": run_id, "key": "m", "value": 10**400, "timestamp": 1},
    ):
        response = client.post(f"{API}/runs/log-metric", json=body)
        assert response.status_code == 400, response.text
    body = {"experiment_ids": ["0"], "max_results": 2**40}
    response = client.post(f"{API}/runs/search", json=body)
    assert response.status_code == 400
    response = client.post(f"{API}/experiments/search", json={"max_results": 10**20})
    assert response.status_code == 400


def test_served_run_artifacts_list_from_the_server_root(served: tuple[TestClient, Path]) -> None:
    client, root = served
    run = client.post(f"{API}/runs/create", json={"experiment_id": "0"}).json()["run"]["info"]
    assert run["artifact_uri"] == f"mlflow-artifacts:/0/{run['run_id']}/artifacts"
    folder = root / "0" / run["run_id"] / "artifacts"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "a.txt").write_text("abc")
    params = {"run_id": run["run_id"], "path": "sub"}
    listing = client.get(f"{API}/artifacts/list", params=params).json()
    assert listing["files"] == [{"path": "sub/a.txt", "is_dir": False, "file_size": 3}]
