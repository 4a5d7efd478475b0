"""Route-level tests: MLflow's request shapes in, MLflow's JSON (and error bodies) out."""

from __future__ import annotations

import base64
import math
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shipyard.server import create_app
from shipyard.server._http import MAX_BODY_BYTES
from shipyard.settings import Settings
from shipyard.tracking import TrackingService

API = "/api/2.0/mlflow"


@pytest.fixture
def client(tmp_store: TrackingService, tmp_path: Path) -> TestClient:
    settings = Settings(artifact_root=str(tmp_path / "artifacts"))
    return TestClient(create_app(settings, tmp_store, extra_routers=()))


def post(client: TestClient, path: str, body: Any, status: int = 200) -> Any:
    response = client.post(f"{API}/{path}", json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()


def get(client: TestClient, path: str, params: Any, status: int = 200) -> Any:
    response = client.get(f"{API}/{path}", params=params)
    assert response.status_code == status, response.text
    return response.json()


def new_run(client: TestClient, name: str = "exp") -> tuple[str, str]:
    exp_id = post(client, "experiments/create", {"name": name})["experiment_id"]
    run = post(client, "runs/create", {"experiment_id": exp_id, "start_time": 5})["run"]
    return exp_id, run["info"]["run_id"]


# -- experiments ------------------------------------------------------------------------------
def test_experiment_lifecycle(client: TestClient) -> None:
    tags = [{"key": "team", "value": "ml"}]
    exp_id = post(client, "experiments/create", {"name": "e1", "tags": tags})["experiment_id"]
    exp = get(client, "experiments/get", {"experiment_id": exp_id})["experiment"]
    assert exp["name"] == "e1" and exp["lifecycle_stage"] == "active"
    assert exp["tags"] == tags and isinstance(exp["creation_time"], int)
    assert get(client, "experiments/get-by-name", {"experiment_name": "e1"})["experiment"] == exp

    assert post(client, "experiments/update", {"experiment_id": exp_id, "new_name": "e2"}) == {}
    body = {"experiment_id": exp_id, "key": "k", "value": "v"}
    post(client, "experiments/set-experiment-tag", body)
    post(client, "experiments/delete-experiment-tag", {"experiment_id": exp_id, "key": "team"})
    exp = get(client, "experiments/get", {"experiment_id": exp_id})["experiment"]
    assert exp["name"] == "e2" and exp["tags"] == [{"key": "k", "value": "v"}]

    post(client, "experiments/delete", {"experiment_id": exp_id})
    found = post(client, "experiments/search", {"view_type": "DELETED_ONLY"})["experiments"]
    assert [e["experiment_id"] for e in found] == [exp_id]
    post(client, "experiments/restore", {"experiment_id": exp_id})
    assert (
        get(client, "experiments/get", {"experiment_id": exp_id})["experiment"]["lifecycle_stage"]
        == "active"
    )


def test_new_experiments_get_the_proxy_artifact_root_when_serving(client: TestClient) -> None:
    # tmp_store's root is a folder; a serving store's root is mlflow-artifacts:/ (see _run.py)
    exp_id = post(client, "experiments/create", {"name": "where"})["experiment_id"]
    exp = get(client, "experiments/get", {"experiment_id": exp_id})["experiment"]
    assert exp["artifact_location"].endswith(f"/{exp_id}")


def test_search_experiments_pages_by_post_and_get(client: TestClient) -> None:
    for i in range(5):
        post(client, "experiments/create", {"name": f"page-{i}"})
    first = post(client, "experiments/search", {"max_results": 2, "filter": "name LIKE 'page-%'"})
    assert len(first["experiments"]) == 2 and first["next_page_token"]
    params = {
        "max_results": "2",
        "filter": "name LIKE 'page-%'",
        "page_token": first["next_page_token"],
        "order_by": ["name ASC"],
    }
    second = get(client, "experiments/search", params)
    assert len(second["experiments"]) == 2
    last = post(client, "experiments/search", {"max_results": 50, "order_by": ["name DESC"]})
    assert "next_page_token" not in last
    assert [e["name"] for e in last["experiments"]][:2] == ["page-4", "page-3"]


def test_experiment_errors_use_mlflow_codes(client: TestClient) -> None:
    missing = get(client, "experiments/get-by-name", {"experiment_name": "nope"}, 404)
    assert missing["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert get(client, "experiments/get", {"experiment_id": "12345"}, 404)["error_code"] == (
        "RESOURCE_DOES_NOT_EXIST"
    )
    post(client, "experiments/create", {"name": "dup"})
    dup = post(client, "experiments/create", {"name": "dup"}, 400)
    assert dup["error_code"] == "RESOURCE_ALREADY_EXISTS"
    missing_name = post(client, "experiments/create", {"tags": []}, 400)
    assert missing_name == {
        "error_code": "INVALID_PARAMETER_VALUE",
        "message": "Missing value for required parameter 'name'.",
    }
    empty_name = post(client, "experiments/create", {"name": ""}, 400)
    assert "name" in empty_name["message"]


# -- runs -------------------------------------------------------------------------------------
def test_run_json_has_mlflow_shape(client: TestClient) -> None:
    _, run_id = new_run(client)
    run = get(client, "runs/get", {"run_id": run_id})["run"]
    assert set(run) == {"info", "data", "inputs", "outputs"}
    info = run["info"]
    assert info["run_id"] == info["run_uuid"] == run_id
    assert info["status"] == "RUNNING" and info["start_time"] == 5
    assert "end_time" not in info  # None fields are left out, as protobuf JSON does
    assert {"key": "mlflow.runName", "value": info["run_name"]} in run["data"]["tags"]
    assert get(client, "runs/get", {"run_uuid": run_id})["run"]["info"] == info


def test_logging_and_history(client: TestClient) -> None:
    _, run_id = new_run(client)
    post(client, "runs/log-metric", {"run_id": run_id, "key": "m", "value": 1.5, "timestamp": 10})
    metric = {"run_uuid": run_id, "key": "m", "value": "2", "timestamp": "11", "step": "1"}
    post(client, "runs/log-metric", metric)  # int64 and double as strings, run_uuid only
    post(client, "runs/log-parameter", {"run_id": run_id, "key": "p", "value": "x"})
    post(client, "runs/set-tag", {"run_id": run_id, "key": "t", "value": "y"})
    batch = {
        "run_id": run_id,
        "metrics": [{"key": "b", "value": v, "timestamp": 1, "step": i} for i, v in enumerate(
            ["NaN", "Infinity", "-Infinity", 3]
        )],
        "params": [{"key": "q", "value": "1"}],
        "tags": [{"key": "u", "value": "2"}],
    }  # fmt: skip
    post(client, "runs/log-batch", batch)
    history = get(client, "metrics/get-history", {"run_id": run_id, "metric_key": "m"})
    assert [(m["value"], m["step"]) for m in history["metrics"]] == [(1.5, 0), (2.0, 1)]
    b = get(client, "metrics/get-history", {"run_id": run_id, "metric_key": "b"})["metrics"]
    assert [m["value"] for m in b] == ["NaN", "Infinity", "-Infinity", 3.0]
    data = get(client, "runs/get", {"run_id": run_id})["run"]["data"]
    assert {"key": "p", "value": "x"} in data["params"] and {"key": "q", "value": "1"} in (
        data["params"]
    )
    latest = {m["key"]: m["value"] for m in data["metrics"]}
    assert latest == {"m": 2.0, "b": 3.0}
    post(client, "runs/delete-tag", {"run_id": run_id, "key": "t"})
    tags = get(client, "runs/get", {"run_id": run_id})["run"]["data"]["tags"]
    assert all(t["key"] != "t" for t in tags)


def test_param_change_is_rejected(client: TestClient) -> None:
    _, run_id = new_run(client)
    post(client, "runs/log-parameter", {"run_id": run_id, "key": "p", "value": "1"})
    post(client, "runs/log-parameter", {"run_id": run_id, "key": "p", "value": "1"})
    err = post(client, "runs/log-parameter", {"run_id": run_id, "key": "p", "value": "2"}, 400)
    assert err["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "Changing param values is not allowed" in err["message"]


def test_update_delete_restore_search(client: TestClient) -> None:
    exp_id, run_id = new_run(client)
    body = {"run_id": run_id, "status": "FINISHED", "end_time": 99, "run_name": "renamed"}
    info = post(client, "runs/update", body)["run_info"]
    assert (info["status"], info["end_time"], info["run_name"]) == ("FINISHED", 99, "renamed")
    post(client, "runs/log-metric", {"run_id": run_id, "key": "acc", "value": 0.5, "timestamp": 1})
    found = post(client, "runs/search", {"experiment_ids": [exp_id], "filter": "metrics.acc > 0.1"})
    assert [r["info"]["run_id"] for r in found["runs"]] == [run_id]
    post(client, "runs/delete", {"run_id": run_id})
    assert post(client, "runs/search", {"experiment_ids": [exp_id]}) == {"runs": []}
    deleted = post(client, "runs/search", {"experiment_ids": [exp_id], "run_view_type": "ALL"})
    assert deleted["runs"][0]["info"]["lifecycle_stage"] == "deleted"
    post(client, "runs/restore", {"run_id": run_id})
    assert len(post(client, "runs/search", {"experiment_ids": [exp_id]})["runs"]) == 1


def test_log_inputs_and_outputs(client: TestClient) -> None:
    _, run_id = new_run(client)
    dataset = {"name": "d", "digest": "abc", "source_type": "local", "source": "{}", "schema": "s"}
    tags = [{"key": "mlflow.data.context", "value": "train"}]
    post(
        client,
        "runs/log-inputs",
        {"run_id": run_id, "datasets": [{"tags": tags, "dataset": dataset}]},
    )
    post(client, "runs/outputs", {"run_id": run_id, "models": [{"model_id": "m-1", "step": 3}]})
    run = get(client, "runs/get", {"run_id": run_id})["run"]
    assert run["inputs"]["dataset_inputs"] == [{"dataset": dataset, "tags": tags}]
    assert run["outputs"]["model_outputs"] == [{"model_id": "m-1", "step": 3}]
    err = post(client, "runs/log-inputs", {"run_id": run_id, "datasets": [{"dataset": {}}]}, 400)
    assert err["message"].startswith("Missing value for required parameter 'datasets[0].dataset")


def test_run_errors(client: TestClient) -> None:
    missing = get(client, "runs/get", {"run_id": "a" * 32}, 404)
    assert missing["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    no_id = post(client, "runs/log-metric", {"key": "m", "value": 1, "timestamp": 1}, 400)
    assert no_id["message"] == "Missing value for required parameter 'run_id'."
    _, run_id = new_run(client)
    no_key = post(client, "runs/log-metric", {"run_id": run_id, "value": 1, "timestamp": 1}, 400)
    assert no_key["message"] == "Missing value for required parameter 'key'."
    bad = {"run_id": run_id, "key": "m", "value": "abc", "timestamp": 1}
    assert "'value'" in post(client, "runs/log-metric", bad, 400)["message"]
    huge = {"run_id": run_id, "key": "m", "value": 1, "timestamp": 2**70}
    assert "'timestamp'" in post(client, "runs/log-metric", huge, 400)["message"]
    points = [{"key": "m", "value": 1, "timestamp": i} for i in range(1001)]
    too_many = {"run_id": run_id, "metrics": points}
    assert "at most 1000" in post(client, "runs/log-batch", too_many, 400)["message"]
    body = {"experiment_ids": ["0"], "filter": "metrics.m >"}
    bad_filter = post(client, "runs/search", body, 400)
    assert bad_filter["error_code"] == "INVALID_PARAMETER_VALUE"
    bad_token = post(client, "runs/search", {"experiment_ids": ["0"], "page_token": "zz"}, 400)
    assert bad_token["error_code"] == "INVALID_PARAMETER_VALUE"


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"[1, 2]", b'"text"', b"", b"null", b'{"name": {"nested": 1}}'],
)
def test_malformed_bodies_are_400_json(client: TestClient, content: bytes) -> None:
    response = client.post(
        f"{API}/experiments/create", content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_oversized_bodies_are_refused_before_parsing(client: TestClient) -> None:
    huge = b'{"name": "' + b"x" * (MAX_BODY_BYTES + 1) + b'"}'
    response = client.post(
        f"{API}/experiments/create", content=huge, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


def test_bare_nan_from_python_json_is_accepted(client: TestClient) -> None:
    _, run_id = new_run(client)
    body = f'{{"run_id": "{run_id}", "key": "m", "value": NaN, "timestamp": 1}}'.encode()
    response = client.post(
        f"{API}/runs/log-metric", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 200
    history = get(client, "metrics/get-history", {"run_id": run_id, "metric_key": "m"})
    assert history["metrics"][0]["value"] == "NaN"


def test_history_pages_through_the_server_and_a_forged_cursor_is_a_400(
    client: TestClient,
) -> None:
    _, run_id = new_run(client)
    points = [{"key": "m", "value": i, "timestamp": i, "step": i} for i in range(7)]
    post(client, "runs/log-batch", {"run_id": run_id, "metrics": points})
    query: dict[str, Any] = {"run_id": run_id, "metric_key": "m", "max_results": 3}
    steps, token = [], None
    for _ in range(3):
        page = get(
            client, "metrics/get-history", {**query, "page_token": token} if token else query
        )
        steps += [m["step"] for m in page["metrics"]]
        token = page.get("next_page_token")
    assert steps == list(range(7)) and token is None
    forged = base64.b64encode(b'{"offset": 3, "after": [1, 2, "x", false]}').decode()
    bad = get(client, "metrics/get-history", {**query, "page_token": forged}, 400)
    assert bad["error_code"] == "INVALID_PARAMETER_VALUE" and "page token" in bad["message"]


@pytest.mark.parametrize(
    ("odd", "named"),
    [
        ({"step": 2**63}, "step 9223372036854775808 is out of the 64-bit range"),
        ({"timestamp": 2**64 - 1}, "timestamp 18446744073709551615 is out of the 64-bit"),
        ({"key": "a/../b"}, "Invalid metric name: 'a/../b'"),
        ({"key": ""}, "Invalid metric name: ''"),
    ],
)
def test_a_bad_plain_point_is_a_400_naming_it_and_nothing_is_stored(
    client: TestClient, odd: dict[str, Any], named: str
) -> None:
    """Plain points are checked as columns (``MetricColumns``); one bad point among 20 is
    refused as the record-by-record path refuses it."""
    _, run_id = new_run(client)
    points = [{"key": "m", "value": 0.5, "timestamp": i, "step": i} for i in range(20)]
    points[13] = {**points[13], **odd}
    bad = post(client, "runs/log-batch", {"run_id": run_id, "metrics": points}, 400)
    assert bad["error_code"] == "INVALID_PARAMETER_VALUE" and named in bad["message"]
    assert "metrics" not in get(client, "runs/get", {"run_id": run_id})["run"]["data"]


def test_bulk_interval_samples_steps(client: TestClient) -> None:
    _, run_id = new_run(client)
    points = [{"key": "m", "value": i, "timestamp": i, "step": i} for i in range(100)]
    post(client, "runs/log-batch", {"run_id": run_id, "metrics": points})
    params = {"run_ids": [run_id], "metric_key": "m", "max_results": 10}
    got = get(client, "metrics/get-history-bulk-interval", params)["metrics"]
    steps = [m["step"] for m in got]
    assert len(steps) == 10 and steps[0] == 0 and steps[-1] == 99 and steps == sorted(steps)
    assert all(m["run_id"] == run_id for m in got)
    ranged = {**params, "start_step": 10, "end_step": 20, "max_results": 2500}
    assert len(get(client, "metrics/get-history-bulk-interval", ranged)["metrics"]) == 11
    half = {**params, "start_step": 10}
    get(client, "metrics/get-history-bulk-interval", half, 400)


def test_bulk_history_gives_each_runs_points_in_order_up_to_max_results(
    client: TestClient,
) -> None:
    """The UI's ``get-history-bulk`` as MLflow 3.17.2's server answers it (checked against it)."""
    exp, one = new_run(client)
    other = post(client, "runs/create", {"experiment_id": exp})["run"]["info"]["run_id"]
    first, second = sorted((one, other))  # answered in id order, whatever order is asked
    for run_id, scale in ((first, 1), (second, 2)):
        points = [{"key": "m", "value": i * scale, "timestamp": 9 - i, "step": i} for i in range(3)]
        post(client, "runs/log-batch", {"run_id": run_id, "metrics": points})
    bulk = "/ajax-api/2.0/mlflow/metrics/get-history-bulk"
    got = client.get(bulk, params={"run_id": [second, first], "metric_key": "m"}).json()
    assert [(m["run_id"], m["step"], m["value"]) for m in got["metrics"]] == [
        (first, 2, 2.0),
        (first, 1, 1.0),
        (first, 0, 0.0),  # history order: by timestamp
        (second, 2, 4.0),
        (second, 1, 2.0),
        (second, 0, 0.0),
    ]
    capped = {"run_id": [second, first], "metric_key": "m", "max_results": 4}
    assert [m["run_id"] for m in client.get(bulk, params=capped).json()["metrics"]] == [
        first
    ] * 3 + [second]
    missing = {"run_id": ["f" * 32], "metric_key": "m"}
    assert client.get(bulk, params=missing).json() == {"metrics": []}
    for params, why in (
        ({"metric_key": "m"}, "at least one run_id"),
        ({"run_id": [first]}, "must specify a metric_key"),
        ({"run_id": [first] * 101, "metric_key": "m"}, "more than 100 run_ids"),
    ):
        response = client.get(bulk, params=params)
        assert response.status_code == 400 and why in response.json()["message"]


# -- side endpoints, prefixes, unknown paths -----------------------------------------------
def test_side_endpoints(client: TestClient) -> None:
    assert client.get("/health").text == "OK"
    version = client.get("/version")
    assert version.status_code == 200 and version.text[0].isdigit()
    info = client.get("/api/3.0/mlflow/server-info").json()
    assert info["store_type"] == "SqlStore" and info["workspaces_enabled"] is False


def test_ajax_prefix_mirrors_the_api(client: TestClient) -> None:
    response = client.post("/ajax-api/2.0/mlflow/experiments/search", json={})
    assert response.status_code == 200 and response.json()["experiments"]


def test_unknown_paths_are_json_404(client: TestClient) -> None:
    for path in ("/api/2.0/mlflow/nope", "/api/2.0/mlflow/runs/log-param", "/whatever"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.json()["error_code"] == "ENDPOINT_NOT_FOUND"
    wrong_method = client.get(f"{API}/runs/log-batch")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error_code"] == "ENDPOINT_NOT_FOUND"


def test_artifacts_list_reads_the_served_folder(client: TestClient, tmp_path: Path) -> None:
    _, run_id = new_run(client)
    info = get(client, "runs/get", {"run_id": run_id})["run"]["info"]
    folder = Path(info["artifact_uri"])  # tmp_store hands out a local folder
    (folder / "model").mkdir(parents=True)
    (folder / "model" / "MLmodel").write_text("flavors: {}\n")
    (folder / "hello.txt").write_text("hi")
    top = get(client, "artifacts/list", {"run_id": run_id})
    assert top["root_uri"] == info["artifact_uri"]
    assert top["files"] == [
        {"path": "hello.txt", "is_dir": False, "file_size": 2},
        {"path": "model", "is_dir": True},
    ]
    inner = get(client, "artifacts/list", {"run_id": run_id, "path": "model"})["files"]
    assert inner == [{"path": "model/MLmodel", "is_dir": False, "file_size": 12}]
    assert get(client, "artifacts/list", {"run_id": run_id, "path": "nope"})["files"] == []


def test_nan_metric_value_round_trips_in_run_json(client: TestClient) -> None:
    _, run_id = new_run(client)
    post(client, "runs/log-metric", {"run_id": run_id, "key": "n", "value": "NaN", "timestamp": 1})
    value = get(client, "runs/get", {"run_id": run_id})["run"]["data"]["metrics"][0]["value"]
    assert value == "NaN" and math.isnan(float(value))
