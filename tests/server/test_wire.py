"""The MLflow JSON codec: protobuf conventions, and entity -> JSON -> entity round trips."""

from __future__ import annotations

import math

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shipyard import wire
from shipyard.entities import Dataset, DatasetInput, Experiment, Metric, Run, RunData, RunInfo, Tag
from shipyard.errors import InvalidParameter

int64 = st.integers(min_value=wire.INT64_MIN, max_value=wire.INT64_MAX)
text = st.text(max_size=20)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(math.nan, "NaN"), (math.inf, "Infinity"), (-math.inf, "-Infinity"), (1.5, 1.5)],
)
def test_doubles_are_written_like_protobuf(value: float, expected: object) -> None:
    assert wire.double_to_json(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("NaN", math.nan), ("Infinity", math.inf), ("-Infinity", -math.inf), (3, 3.0), ("2.5", 2.5)],
)
def test_doubles_are_read_from_numbers_or_strings(value: object, expected: float) -> None:
    got = wire.double_from_json(value)
    assert (math.isnan(got) and math.isnan(expected)) or got == expected


@pytest.mark.parametrize("value", [True, None, "abc", [1], {}])
def test_bad_doubles_are_invalid(value: object) -> None:
    with pytest.raises(InvalidParameter):
        wire.double_from_json(value)


@pytest.mark.parametrize("value", ["12", 12, "-3", 4.0, str(wire.INT64_MAX)])
def test_int64_from_numbers_and_strings(value: object) -> None:
    assert wire.int64_from_json(value, "step") == int(value)  # type: ignore[call-overload]


@pytest.mark.parametrize("value", [True, 1.5, "1e3", "0x10", " ", str(2**63), 2**64, "+-1", None])
def test_bad_int64_is_invalid_and_named(value: object) -> None:
    with pytest.raises(InvalidParameter, match="'step'"):
        wire.int64_from_json(value, "step")


metrics = st.builds(
    Metric,
    key=text,
    value=st.floats(allow_nan=False) | st.sampled_from([math.inf, -math.inf]),
    timestamp=int64,
    step=int64,
)
datasets = st.builds(
    DatasetInput,
    dataset=st.builds(Dataset, text, text, text, text, st.none() | text, st.none() | text),
    tags=st.lists(st.builds(Tag, text, text), max_size=2).map(tuple),
)
runs = st.builds(
    Run,
    info=st.builds(
        RunInfo,
        run_id=st.text("abcdef0123456789", min_size=1, max_size=32),
        experiment_id=st.integers(0, 2**31).map(str),
        run_name=text,
        user_id=text,
        status=st.sampled_from(["RUNNING", "FINISHED", "FAILED", "KILLED", "SCHEDULED"]),
        start_time=st.none() | int64,
        end_time=st.none() | int64,
        artifact_uri=text,
        lifecycle_stage=st.sampled_from(["active", "deleted"]),
    ),
    data=st.builds(
        RunData,
        metrics=st.lists(metrics, max_size=3),
        params=st.dictionaries(text, text, max_size=3),
        tags=st.dictionaries(text, text, max_size=3),
    ),
    inputs=st.lists(datasets, max_size=2),
    model_inputs=st.lists(text, max_size=2),
    model_outputs=st.lists(st.tuples(text, int64), max_size=2),
)


@given(runs)
def test_runs_round_trip_through_json_bytes(run: Run) -> None:
    encoded = orjson.dumps(wire.run_to_json(run))
    assert wire.run_from_json(orjson.loads(encoded)) == run


@given(
    st.builds(
        Experiment,
        experiment_id=st.integers(0, 2**31).map(str),
        name=text,
        artifact_location=text,
        lifecycle_stage=st.sampled_from(["active", "deleted"]),
        creation_time=st.none() | int64,
        last_update_time=st.none() | int64,
        tags=st.dictionaries(text, text, max_size=3),
    )
)
def test_experiments_round_trip(exp: Experiment) -> None:
    encoded = orjson.dumps(wire.experiment_to_json(exp))
    assert wire.experiment_from_json(orjson.loads(encoded)) == exp


def test_nan_metric_round_trips() -> None:
    back = wire.metric_from_json(wire.metric_to_json(Metric("m", math.nan, 1, 2)))
    assert math.isnan(back.value) and (back.timestamp, back.step) == (1, 2)


def test_none_and_empty_fields_are_left_out() -> None:
    info = RunInfo("r", "0", "n", "u", "RUNNING", None, None, "a")
    body = wire.run_to_json(Run(info))
    assert "start_time" not in body["info"] and "end_time" not in body["info"]
    assert body["data"] == {} and body["inputs"] == {} and body["outputs"] == {}
