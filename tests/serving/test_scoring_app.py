"""The scoring app in process: MLflow's protocol, OIP v2, errors, metrics and the inference log."""

from __future__ import annotations

import hashlib
import hmac
import io
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from shipyard.inference_log import read_inference_log
from shipyard.pyfunc import load_model
from shipyard.serving import ServingConfig, build_app


@pytest.fixture
def client(iris_model: Path, tmp_path: Path) -> TestClient:
    config = ServingConfig(str(iris_model), name="iris", log_root=str(tmp_path / "log"))
    with TestClient(build_app(config)) as test_client:
        yield test_client


def expected(iris_model: Path, rows: pd.DataFrame) -> list[int]:
    return load_model(iris_model).predict(rows).tolist()


def test_dataframe_split_matches_in_process_predict(
    client: TestClient, iris_model: Path, iris_rows: pd.DataFrame
) -> None:
    rows = iris_rows.iloc[[0, 60, 120]]
    body = {"dataframe_split": {"columns": list(rows.columns), "data": rows.to_numpy().tolist()}}
    answer = client.post("/invocations", json=body)
    assert answer.status_code == 200
    assert answer.json() == {"predictions": expected(iris_model, rows)}
    assert answer.headers["x-model-version"]
    assert len(answer.headers["x-request-id"]) == 32


@pytest.mark.parametrize("kind", ["records", "instances", "inputs", "csv", "parquet"])
def test_every_input_format_gives_the_same_answer(
    client: TestClient, iris_model: Path, iris_rows: pd.DataFrame, kind: str
) -> None:
    rows = iris_rows.iloc[[1, 70, 140]]
    records = rows.to_dict(orient="records")
    if kind == "csv":
        answer = client.post(
            "/invocations", content=rows.to_csv(index=False), headers={"content-type": "text/csv"}
        )
    elif kind == "parquet":
        buffer = io.BytesIO()
        rows.to_parquet(buffer)
        answer = client.post(
            "/invocations",
            content=buffer.getvalue(),
            headers={"content-type": "application/x-parquet"},
        )
    elif kind == "inputs":
        answer = client.post("/invocations", json={"inputs": rows.to_dict(orient="list")})
    else:
        key = {"records": "dataframe_records", "instances": "instances"}[kind]
        answer = client.post("/invocations", json={key: records})
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] == expected(iris_model, rows)


def test_request_id_is_taken_from_the_header(client: TestClient, iris_rows: pd.DataFrame) -> None:
    body = {"dataframe_records": iris_rows.head(1).to_dict(orient="records")}
    answer = client.post("/invocations", json=body, headers={"X-Request-ID": "abc-1"})
    assert answer.headers["x-request-id"] == "abc-1"


def test_other_content_types_get_415(client: TestClient) -> None:
    answer = client.post("/invocations", content=b"x", headers={"content-type": "text/plain"})
    assert answer.status_code == 415
    assert "text/csv" in answer.json()["message"]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"foo": 1}', "exactly one of the keys"),
        (b'{"dataframe_split": {"data": [[1, 2], [3]]}}', "does not make a table"),
    ],
)
def test_malformed_json_is_a_400(client: TestClient, body: bytes, needle: str) -> None:
    answer = client.post("/invocations", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 400
    assert needle in answer.json()["message"]
    assert answer.json()["request_id"] == answer.headers["x-request-id"]


def test_signature_violation_names_column_and_type(client: TestClient) -> None:
    body = {
        "dataframe_records": [
            {"sepal_length": "long", "sepal_width": 1.0, "petal_length": 1.0, "petal_width": 1.0}
        ]
    }
    answer = client.post("/invocations", json=body)
    assert answer.status_code == 400
    message = answer.json()["message"]
    assert "'sepal_length'" in message and "double" in message
    missing = client.post("/invocations", json={"dataframe_records": [{"sepal_length": 1.0}]})
    assert missing.status_code == 400
    assert "missing column 'sepal_width'" in missing.json()["message"]


def test_oversized_body_is_a_413(iris_model: Path) -> None:
    app = build_app(ServingConfig(str(iris_model), max_body_bytes=100))
    with TestClient(app) as small:
        answer = small.post(
            "/invocations",
            content=b"{" + b" " * 200 + b"}",
            headers={"content-type": "application/json"},
        )
    assert answer.status_code == 413


def test_a_body_in_chunks_and_a_streamed_body_over_the_limit(
    iris_model: Path, iris_rows: pd.DataFrame
) -> None:
    rows = iris_rows.iloc[[5, 95]]
    body = orjson.dumps({"dataframe_split": {"columns": list(rows.columns),
                                             "data": rows.to_numpy().tolist()}})  # fmt: skip
    pieces = [body[i : i + 16] for i in range(0, len(body), 16)]  # chunked: no content-length
    app = build_app(ServingConfig(str(iris_model), max_body_bytes=len(body) + 10))
    with TestClient(app) as small:
        headers = {"content-type": "application/json", "x-request-id": "c-1"}
        answer = small.post("/invocations", content=iter(pieces), headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"predictions": expected(iris_model, rows)}
        assert answer.headers["x-request-id"] == "c-1"
        assert answer.headers["content-type"] == "application/json"
        too_big = small.post("/invocations", content=iter([*pieces, b" " * 64]),
                             headers={"content-type": "application/json"})  # fmt: skip
        assert too_big.status_code == 413
        assert "server's limit" in too_big.json()["message"]


def test_health_version_and_ping(client: TestClient) -> None:
    assert client.get("/ping").status_code == 200
    assert client.get("/health").status_code == 200
    assert client.get("/version").text.count(".") >= 1


def test_oip_infer_with_one_matrix_and_with_named_columns(
    client: TestClient, iris_model: Path, iris_rows: pd.DataFrame
) -> None:
    rows = iris_rows.iloc[[2, 80]]
    matrix = {
        "id": "q1",
        "inputs": [
            {
                "name": "input-0",
                "shape": [2, 4],
                "datatype": "FP64",
                "data": rows.to_numpy().ravel().tolist(),
            }
        ],
    }
    answer = client.post("/v2/models/iris/infer", json=matrix)
    assert answer.status_code == 200, answer.text
    out = answer.json()
    assert out["model_name"] == "iris" and out["id"] == "q1"
    assert out["model_version"] == answer.headers["x-model-version"]
    assert out["outputs"][0]["data"] == expected(iris_model, rows)
    assert out["outputs"][0]["shape"] == [2] and out["outputs"][0]["datatype"] == "INT64"
    named = {
        "inputs": [
            {"name": c, "shape": [2], "datatype": "FP64", "data": rows[c].tolist()}
            for c in rows.columns
        ]
    }
    assert client.post("/v2/models/iris/infer", json=named).json()["outputs"] == out["outputs"]


def test_oip_metadata_readiness_and_errors(client: TestClient) -> None:
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    meta = client.get("/v2/models/iris").json()
    assert meta["inputs"][0] == {"name": "sepal_length", "datatype": "FP64", "shape": [-1]}
    assert client.get("/v2/models/iris/ready").json() == {"name": "iris", "ready": True}
    assert client.get("/v2/models/other").status_code == 404
    wrong = client.post("/v2/models/iris/infer", json={"inputs": [{"name": "x"}]})
    assert wrong.status_code == 400 and "error" in wrong.json()


def test_a_model_that_raises_is_a_500_with_the_request_id(tmp_path: Path) -> None:
    import shipyard.pyfunc

    class Broken(shipyard.pyfunc.PythonModel):
        def predict(
            self, context: object, model_input: pd.DataFrame, params: object = None
        ) -> None:
            raise RuntimeError("boom")

    shipyard.pyfunc.save_model(tmp_path / "broken", python_model=Broken())
    with TestClient(build_app(ServingConfig(str(tmp_path / "broken"), trusted=True))) as broken:
        answer = broken.post("/invocations", json={"inputs": [[1.0]]})
        assert answer.status_code == 500
        assert "boom" in answer.json()["message"]
        assert answer.json()["request_id"] == answer.headers["x-request-id"]
        assert broken.get("/ping").status_code == 200  # still serving


def test_metrics_count_requests_errors_and_the_served_version(
    client: TestClient, iris_rows: pd.DataFrame
) -> None:
    client.post("/invocations", json={"dataframe_records": iris_rows.head(5).to_dict("records")})
    client.post("/invocations", content=b"{", headers={"content-type": "application/json"})
    text = client.get("/metrics").text
    assert 'shipyard_serving_requests_total{endpoint="rest",status="200"} 1.0' in text
    assert 'shipyard_serving_errors_total{endpoint="rest",kind="client"} 1.0' in text
    assert 'shipyard_serving_batch_rows_sum{endpoint="rest"} 5.0' in text
    assert 'shipyard_serving_model_info{name="iris"' in text
    assert "shipyard_serving_request_latency_seconds_bucket" in text
    assert "shipyard_inference_log_dropped_records_total 0.0" in text


def test_inference_log_records_every_row_and_flushes_on_shutdown(
    iris_model: Path, iris_rows: pd.DataFrame, tmp_path: Path
) -> None:
    config = ServingConfig(
        str(iris_model), name="iris", log_root=str(tmp_path / "log"), log_flush_interval=60
    )
    rows = iris_rows.iloc[[0, 75, 149]]
    with TestClient(build_app(config)) as scoring:
        ok = scoring.post(
            "/invocations",
            json={"dataframe_records": rows.to_dict("records")},
            headers={"X-Request-ID": "r-ok"},
        )
        bad = scoring.post(
            "/invocations",
            json={"dataframe_records": [{"sepal_length": 1.0}]},
            headers={"X-Request-ID": "r-bad"},
        )
        version = ok.headers["x-model-version"]
    assert bad.status_code == 400
    log = read_inference_log(tmp_path / "log", model="iris")
    assert log["request_id"].tolist() == ["r-ok"] * 3 + ["r-bad"]
    good = log[log["status"] == "ok"]
    assert good["model_version"].unique().tolist() == [version]
    assert good["in.petal_length"].tolist() == rows["petal_length"].tolist()
    assert good["out.prediction"].tolist() == ok.json()["predictions"]
    proba = good[["out.proba.0", "out.proba.1", "out.proba.2"]].to_numpy()
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert (good["latency_ms"] > 0).all() and (good["source"] == "rest").all()
    failed = log[log["status"] == "error"].iloc[0]
    assert "sepal_width" in failed["error"]


def test_privacy_hashes_chosen_columns(
    iris_model: Path, iris_rows: pd.DataFrame, tmp_path: Path
) -> None:
    config = ServingConfig(
        str(iris_model),
        name="iris",
        log_root=str(tmp_path / "log"),
        log_hash_columns=("sepal_length",),
        log_salt="pepper",
    )
    with TestClient(build_app(config)) as scoring:
        scoring.post(
            "/invocations", json={"dataframe_records": iris_rows.head(1).to_dict("records")}
        )
    log = read_inference_log(tmp_path / "log")
    assert "in.sepal_length" not in log.columns
    value = str(iris_rows["sepal_length"].iloc[0])
    assert (
        log["in_hash.sepal_length"].iloc[0]
        == hashlib.sha256(b"pepper" + value.encode()).hexdigest()
    )


def test_webhook_needs_a_valid_signature(iris_model: Path) -> None:
    secret = "s3cret"
    with TestClient(build_app(ServingConfig(str(iris_model), webhook_secret=secret))) as app:
        body = orjson.dumps({"event": {"action": "alias.set"}})
        good = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        assert (
            app.post(
                "/-/registry-webhook", content=body, headers={"X-Shipyard-Signature": good}
            ).status_code
            == 202
        )
        assert (
            app.post(
                "/-/registry-webhook", content=body, headers={"X-Shipyard-Signature": "sha256=0"}
            ).status_code
            == 403
        )
        assert app.post("/-/registry-webhook", content=body).status_code == 403


def test_aggregate_inputs_logs_no_raw_value_and_needs_a_reference(
    iris_model: Path, iris_rows: pd.DataFrame, tmp_path: Path
) -> None:
    import shipyard.sklearn
    from shipyard.errors import InvalidModel
    from shipyard.inference_log import read_inference_aggregates

    with pytest.raises(InvalidModel, match="reference_data"):  # iris_model has no profile
        build_app(ServingConfig(str(iris_model), log_root=str(tmp_path / "x"),
                                log_input_aggregates=True))  # fmt: skip
    profiled = tmp_path / "profiled"
    estimator = load_model(iris_model).unwrap()
    shipyard.sklearn.save_model(estimator, profiled, input_example=iris_rows.head(3),
                                reference_data=iris_rows)  # fmt: skip
    config = ServingConfig(str(profiled), name="iris", log_root=str(tmp_path / "log"),
                           log_input_aggregates=True)  # fmt: skip
    with TestClient(build_app(config)) as scoring:
        for i in range(20):
            rows = iris_rows.iloc[[i, 149 - i]].to_dict(orient="records")
            assert scoring.post("/invocations", json={"dataframe_records": rows}).status_code == 200
    logged = read_inference_log(tmp_path / "log", model="iris")
    assert len(logged) == 40 and not [c for c in logged.columns if c.startswith("in.")]
    summaries = read_inference_aggregates(tmp_path / "log", model="iris")
    assert summaries["rows"].sum() == 40
    columns = orjson.loads(summaries["aggregates"].iloc[0])["columns"]
    assert sorted(columns) == [f"in.{c}" for c in sorted(iris_rows.columns)]
