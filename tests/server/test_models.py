"""Request bodies: ``LogBatch``'s short path for plain points gives exactly what pydantic's own
validation gives (values and errors), whatever the points look like."""

from __future__ import annotations

import math
from dataclasses import astuple
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shipyard.entities import Metric, MetricColumns
from shipyard.server._models import LogBatch, RunRef


class PydanticOnly(RunRef):
    """``LogBatch``'s metrics without the short path: the oracle."""

    metrics: list[Metric] = []


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1.5", "12", "x", ""]),
    st.text(max_size=5),
)
POINT = st.dictionaries(
    st.sampled_from(["key", "value", "timestamp", "step", "model_id", "run_id", "other"]),
    SCALARS,
)
PLAIN = st.fixed_dictionaries(
    {"key": st.text(max_size=8), "value": st.floats() | st.integers(), "timestamp": st.integers()},
    optional={"step": st.integers()},
)


def _outcome(model: type[RunRef], body: dict[str, Any]) -> Any:
    try:
        metrics = model.model_validate(body).metrics  # type: ignore[attr-defined]
    except ValidationError as exc:
        return ("error", exc.errors(include_url=False))
    # NaN != NaN: compare a NaN value by name
    return [
        (m.key, *astuple(m)[2:], type(m.value), "nan" if math.isnan(m.value) else m.value)
        for m in metrics
    ]


@settings(max_examples=400, deadline=None)
@given(points=st.lists(POINT | PLAIN, max_size=6))
def test_the_short_path_gives_what_pydantic_gives(points: list[Any]) -> None:
    body = {"run_id": "r", "metrics": points}
    assert _outcome(LogBatch, body) == _outcome(PydanticOnly, body)


HUGE = {"key": "a", "timestamp": 1}
ODD_LISTS = [
    [{**HUGE, "value": 10**400}],
    [{**HUGE, "value": -(10**400)}],
    [{**HUGE, "value": 2**1023}],
    [{**HUGE, "value": True}],
    [{**HUGE, "value": 1.0, "step": 1.0}],
    [{**HUGE, "value": 1.0, "step": None}],
    [{"key": 1, "value": 1.0, "timestamp": 1}],
]


@pytest.mark.parametrize("metrics", ODD_LISTS)
def test_odd_points_give_what_pydantic_gives(metrics: Any) -> None:
    body = {"run_id": "r", "metrics": metrics}
    assert _outcome(LogBatch, body) == _outcome(PydanticOnly, body)


@pytest.mark.parametrize("metrics", [None, "x", {"key": "a"}, [1], [[1, 2]]])
def test_a_malformed_list_is_pydantic_s_error(metrics: Any) -> None:
    body = {"run_id": "r", "metrics": metrics}
    assert _outcome(LogBatch, body) == _outcome(PydanticOnly, body)
    assert _outcome(LogBatch, body)[0] == "error"


def test_plain_points_come_out_as_columns_with_float_values() -> None:
    body = {
        "metrics": [
            {"key": "a", "value": 3, "timestamp": 10},
            {"key": "b", "value": 0.5, "timestamp": 11, "step": 7},
        ]
    }
    got = LogBatch.model_validate(body).metrics
    assert isinstance(got, MetricColumns)
    assert list(got) == [Metric("a", 3.0, 10, 0), Metric("b", 0.5, 11, 7)]
    assert got.values == [3.0, 0.5] and type(got.values[0]) is float
    assert (got.keys, got.stamps, got.steps) == (["a", "b"], [10, 11], [0, 7])
    assert got[1:] == [Metric("b", 0.5, 11, 7)] and got[-1] == got[1]


@pytest.mark.parametrize(
    "odd",
    [
        {"key": "a", "value": 1.0, "timestamp": 1, "other": 2},  # an extra field
        {"key": "a", "value": 1.0, "step": 1, "other": 2},  # no timestamp, as many fields
        {"key": "a", "value": 1.0, "timestamp": 1, "step": 1, "model_id": "m"},
        {"key": "a", "value": "1.5", "timestamp": 1},
    ],
)
def test_one_odd_point_sends_the_whole_list_through_pydantic(odd: dict[str, Any]) -> None:
    plain = {"key": "p", "value": 2.0, "timestamp": 5, "step": 1}
    body = {"run_id": "r", "metrics": [plain, odd, plain]}
    outcome = _outcome(LogBatch, body)
    assert outcome == _outcome(PydanticOnly, body)
    if outcome[0] != "error":
        assert not isinstance(LogBatch.model_validate(body).metrics, MetricColumns)
