"""Micro-batching: concurrent one-row requests share predict() calls; a bad row fails alone."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
from starlette.applications import Starlette

from shipyard.pyfunc import load_model
from shipyard.serving import ServingConfig, build_app


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
