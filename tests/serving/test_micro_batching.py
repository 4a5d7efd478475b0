"""Micro-batching: concurrent one-row requests share predict() calls; a bad row fails alone."""

from __future__ import annotations

import asyncio
import re
import threading
from pathlib import Path
from typing import Any

import httpx
import orjson
import pandas as pd
import pytest
from starlette.applications import Starlette

from shipyard.inference_log import read_inference_log
from shipyard.pyfunc import load_model
from shipyard.serving import ServingConfig, build_app
from shipyard.serving._codec import NumericRows, decode_invocation, model_input


async def concurrently(app: Starlette, bodies: list[dict[str, Any]]) -> tuple[list[Any], str]:
    """POST every body at once (one event loop, as under real concurrent clients)."""
    transport = httpx.ASGITransport(app=app)
    client = httpx.AsyncClient(transport=transport, base_url="http://scoring")
    async with app.router.lifespan_context(app), client:
        answers = await asyncio.gather(*[client.post("/invocations", json=b) for b in bodies])
        metrics = (await client.get("/metrics")).text
    return [(a.status_code, a.json()) for a in answers], metrics


def histogram(metrics: str, part: str) -> float:
    found = re.search(rf"shipyard_serving_micro_batch_requests_{part} (\S+)", metrics)
    assert found is not None
    return float(found[1])


def test_concurrent_single_rows_are_merged_and_a_bad_row_fails_alone(
    iris_model: Path, iris_rows: pd.DataFrame
) -> None:
    config = ServingConfig(str(iris_model), micro_batch_max_size=32, micro_batch_max_wait_ms=20)
    expected = load_model(iris_model).predict(iris_rows).tolist()
    bad = {"sepal_length": "x", "sepal_width": 1.0, "petal_length": 1.0, "petal_width": 1.0}
    records = [bad if i % 10 == 9 else iris_rows.iloc[i].to_dict() for i in range(150)]
    answers, metrics = asyncio.run(
        concurrently(build_app(config), [{"dataframe_records": [r]} for r in records])
    )
    for i, (status, body) in enumerate(answers):
        if i % 10 == 9:
            assert status == 400 and "'sepal_length'" in body["message"]
        else:
            assert (status, body) == (200, {"predictions": [expected[i]]})
    assert histogram(metrics, "sum") >= 150  # every request went through the batcher
    assert histogram(metrics, "count") < 50  # in far fewer predict() calls


def test_requests_with_many_rows_or_params_skip_the_batcher(
    iris_model: Path, iris_rows: pd.DataFrame
) -> None:
    config = ServingConfig(str(iris_model), micro_batch_max_size=8)
    bodies = [
        {"dataframe_records": iris_rows.head(3).to_dict("records")},
        {"dataframe_records": iris_rows.head(1).to_dict("records"), "params": {"x": 1}},
    ]
    answers, metrics = asyncio.run(concurrently(build_app(config), bodies))
    assert [status for status, _ in answers] == [200, 200]
    assert histogram(metrics, "count") == 0


def test_numeric_split_bodies_share_calls_with_records_bodies(
    iris_model: Path, iris_rows: pd.DataFrame
) -> None:
    """``dataframe_split`` bodies of numbers (the fast decoding path) and ``dataframe_records``
    bodies are batched side by side, each answered with its own row."""
    config = ServingConfig(str(iris_model), micro_batch_max_size=64, micro_batch_max_wait_ms=20)
    expected = load_model(iris_model).predict(iris_rows).tolist()
    columns = list(iris_rows.columns)
    bodies: list[dict[str, Any]] = [
        {"dataframe_split": {"columns": columns, "data": [iris_rows.iloc[i].tolist()]}}
        if i % 2
        else {"dataframe_records": [iris_rows.iloc[i].to_dict()]}
        for i in range(100)
    ]
    answers, metrics = asyncio.run(concurrently(build_app(config), bodies))
    assert answers == [(200, {"predictions": [expected[i]]}) for i in range(100)]
    assert histogram(metrics, "count") < 40


def record_predict_threads(app: Starlette) -> list[int]:
    """The threads the served model predicts in (it is wrapped, not replaced)."""
    model = app.state.serving.holder.current.model
    threads: list[int] = []
    predict = model.predict

    def recording(data: Any, params: Any = None) -> Any:
        threads.append(threading.get_ident())
        return predict(data, params)

    model.predict = recording
    return threads


def split_bodies(rows: pd.DataFrame) -> list[dict[str, Any]]:
    columns = list(rows.columns)
    return [
        {"dataframe_split": {"columns": columns, "data": [rows.iloc[i].tolist()]}}
        for i in range(len(rows))
    ]


@pytest.mark.parametrize("inline_rows", [256, 0])
def test_small_batches_predict_on_the_event_loop_and_larger_ones_on_a_thread(
    iris_model: Path, iris_rows: pd.DataFrame, inline_rows: int
) -> None:
    config = ServingConfig(
        str(iris_model), micro_batch_max_size=64, micro_batch_max_wait_ms=20,
        inline_rows=inline_rows,
    )  # fmt: skip
    app = build_app(config)
    threads = record_predict_threads(app)
    expected = load_model(iris_model).predict(iris_rows).tolist()
    loop_thread: list[int] = []

    async def run() -> tuple[list[Any], str]:
        loop_thread.append(threading.get_ident())
        return await concurrently(app, split_bodies(iris_rows.head(40)))

    answers, metrics = asyncio.run(run())
    assert answers == [(200, {"predictions": [expected[i]]}) for i in range(40)]
    assert histogram(metrics, "count") < 20 and threads
    on_loop = {thread == loop_thread[0] for thread in threads}
    assert on_loop == ({True} if inline_rows else {False})


def test_batched_numeric_rows_are_logged_with_their_column_names(
    iris_model: Path, iris_rows: pd.DataFrame, tmp_path: Path
) -> None:
    config = ServingConfig(
        str(iris_model), name="iris", micro_batch_max_size=64, micro_batch_max_wait_ms=20,
        log_root=str(tmp_path / "log"), log_flush_interval=60,
    )  # fmt: skip
    rows = iris_rows.iloc[::5]  # 30 rows, one request each
    answers, metrics = asyncio.run(concurrently(build_app(config), split_bodies(rows)))
    assert {status for status, _ in answers} == {200}
    assert histogram(metrics, "count") < 15
    log = read_inference_log(tmp_path / "log", model="iris").sort_values("in.sepal_width")
    logged = log[[f"in.{c}" for c in rows.columns]].to_numpy()
    assert logged.tolist() == rows.sort_values("sepal_width").to_numpy().tolist()
    assert sorted(log["out.prediction"]) == sorted(a[1]["predictions"][0] for a in answers)


def test_numbers_under_the_served_columns_decode_to_rows_that_share_its_index(
    iris_model: Path, iris_rows: pd.DataFrame
) -> None:
    app = build_app(ServingConfig(str(iris_model)))
    served = app.state.serving.holder.current
    body = split_bodies(iris_rows.head(2))[1]
    data, params = decode_invocation(orjson.dumps(body), "application/json", served)
    assert isinstance(data, NumericRows) and params is None
    frame = model_input(data)
    assert frame.columns is served.column_index
    assert frame.to_numpy().tolist() == [iris_rows.iloc[1].tolist()]
    renamed = {"dataframe_split": {"columns": ["a", "b", "c", "d"], "data": [[1, 2, 3, 4]]}}
    other, _ = decode_invocation(orjson.dumps(renamed), "application/json", served)
    assert isinstance(other, pd.DataFrame) and list(other.columns) == ["a", "b", "c", "d"]


class RecordingLog:
    """Stands in for the inference log writer: keeps what each request would log."""

    dropped = 0
    written = 0

    def __init__(self) -> None:
        self.inputs: list[Any] = []

    def log(self, **record: Any) -> None:
        self.inputs.append(record["inputs"])

    def close(self) -> None:
        pass


def test_an_unbatched_request_builds_one_frame_for_predict_and_the_log(
    iris_model: Path, iris_rows: pd.DataFrame
) -> None:
    writer = RecordingLog()
    app = build_app(ServingConfig(str(iris_model)), writer=writer)  # type: ignore[arg-type]
    model = app.state.serving.holder.current.model
    given: list[Any] = []
    predict = model.predict

    def recording(data: Any, params: Any = None) -> Any:
        given.append(data)
        return predict(data, params)

    model.predict = recording
    answers, _ = asyncio.run(concurrently(app, split_bodies(iris_rows.head(3))))
    assert [status for status, _ in answers] == [200] * 3
    assert len(given) == len(writer.inputs) == 3
    assert all(a is b for a, b in zip(given, writer.inputs, strict=True))
    assert isinstance(writer.inputs[0], pd.DataFrame)
