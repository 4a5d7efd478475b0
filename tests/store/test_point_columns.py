"""A batch's points as columns, and which point of each key is its newest (``latest_metrics``)."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from shipyard.entities import Metric, MetricColumns
from shipyard.store.sql._writes import point_columns

_points = st.lists(
    st.builds(
        Metric,
        key=st.sampled_from(["a", "b", "c"]),
        value=st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0.0, 1.0, 2.0]),
        timestamp=st.integers(0, 5),
        step=st.integers(0, 5),
    ),
    max_size=40,
)


def _rank(m: Metric) -> tuple[int, int, float]:
    return m.step, m.timestamp, 0.0 if math.isnan(m.value) else m.value


def _newest_one_by_one(points: list[Metric]) -> dict[str, int]:
    """MLflow's rule, point by point: a point replaces its key's latest when its (step,
    timestamp, value) is larger, a NaN counting as 0.0; of equals the first stays."""
    best: dict[str, int] = {}
    for i, m in enumerate(points):
        j = best.get(m.key)
        if j is None or _rank(m) > _rank(points[j]):
            best[m.key] = i
    return best


@given(_points)
def test_each_keys_newest_point_is_found_in_any_order(points: list[Metric]) -> None:
    cols = point_columns(points)
    assert {cols.keys[i]: i for i in cols.newest} == _newest_one_by_one(points)


@given(_points.map(lambda ps: sorted(ps, key=lambda m: (m.step, m.timestamp))))
def test_the_sorted_shortcut_agrees_with_the_rule(points: list[Metric]) -> None:
    """Steps and timestamps that never go down take the no-comparison path."""
    cols = point_columns(points)
    assert {cols.keys[i]: i for i in cols.newest} == _newest_one_by_one(points)


def test_columns_keep_order_and_store_nan_as_zero_with_its_flag() -> None:
    points = [Metric("a", 1.5, 10, 2), Metric("b", math.nan, 11, 1), Metric("a", -math.inf, 9, 3)]
    cols = point_columns(points)
    assert cols.keys == ["a", "b", "a"]
    assert cols.stamps == [10, 11, 9] and cols.steps == [2, 1, 3]
    assert cols.values == [1.5, 0.0, -math.inf] and cols.nans == [False, True, False]
    # step 3 beats step 2 although its timestamp is older: the latest columns, in
    # latest_metrics' order (key, step, timestamp, value, is_nan)
    assert sorted(zip(*cols.latest(), strict=True)) == [
        ("a", 3, 9, -math.inf, False),
        ("b", 1, 11, 0.0, True),
    ]


@given(_points)
def test_metric_columns_give_the_columns_their_records_give(points: list[Metric]) -> None:
    """A REST batch arrives as ``MetricColumns``; the store reads its columns directly."""
    columns = MetricColumns(
        [m.key for m in points],
        [m.value for m in points],
        [m.timestamp for m in points],
        [m.step for m in points],
    )
    assert list(columns) == points or any(math.isnan(m.value) for m in points)
    got, want = point_columns(columns), point_columns(points)
    assert got._replace(values=[]) == want._replace(values=[])
    assert [str(v) for v in got.values] == [str(v) for v in want.values]
    assert columns.values == [m.value for m in points]  # NaNs zeroed in a copy, not in place
