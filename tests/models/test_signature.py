"""Signatures: inference from examples, MLflow's JSON format, and enforcement at predict()."""

from __future__ import annotations

import datetime as dt
import json
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shipyard.errors import InvalidModel, SignatureMismatch
from shipyard.models import ColSpec, ParamSpec, Schema, Signature, TensorSpec, infer_signature
from shipyard.models._enforce import InputEnforcer, ParamEnforcer
from shipyard.models._signature import COLUMN_TYPES


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "flag": [True, False],
            "small": np.array([1, 2], dtype=np.int32),
            "big": np.array([1, 2], dtype=np.int64),
            "f32": np.array([0.5, 1.5], dtype=np.float32),
            "f64": [0.5, 1.5],
            "text": ["a", "b"],
            "raw": [b"x", b"y"],
            "when": pd.to_datetime(["2024-01-01", "2024-01-02"]),
        }
    )


def test_column_types_are_inferred_from_a_dataframe() -> None:
    schema = infer_signature(_frame()).inputs
    assert schema is not None and not schema.is_tensor
    types = {spec.name: spec.type for spec in schema.specs}  # type: ignore[union-attr]
    assert types == {
        "flag": "boolean", "small": "integer", "big": "long", "f32": "float", "f64": "double",
        "text": "string", "raw": "binary", "when": "datetime",
    }  # fmt: skip


def test_tensor_spec_is_inferred_from_an_array() -> None:
    schema = infer_signature(np.zeros((3, 4, 2), dtype=np.float32)).inputs
    assert schema is not None
    assert schema.specs == (TensorSpec("float32", (-1, 4, 2)),)


def test_output_of_a_table_model_is_one_unnamed_column_as_in_mlflow() -> None:
    signature = infer_signature(_frame(), np.array([1, 0]))
    assert signature.to_dict()["outputs"] == '[{"type": "long", "required": true}]'


def test_json_matches_mlflows_strings() -> None:
    signature = infer_signature(
        pd.DataFrame({"age": [1, 2]}), params={"threshold": 0.5, "tags": ["a", "b"]}
    )
    assert signature.to_dict() == {
        "inputs": '[{"type": "long", "name": "age", "required": true}]',
        "outputs": None,
        "params": '[{"name": "threshold", "default": 0.5, "shape": null, "type": "double"}, '
        '{"name": "tags", "default": ["a", "b"], "shape": [-1], "type": "string"}]',
    }
    tensor = infer_signature(np.zeros((2, 2)))
    assert tensor.to_dict()["inputs"] == (
        '[{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 2]}}]'
    )


def test_mlflow_complex_types_are_read_and_kept() -> None:
    text = json.dumps(
        [{"type": "array", "items": {"type": "string"}, "name": "x", "required": True}]
    )
    schema = Schema.from_json(text)
    assert schema.specs[0].type == "array"  # type: ignore[union-attr]
    assert json.loads(schema.to_json()) == json.loads(text)


@pytest.mark.parametrize("bad", ["not json", '{"a": 1}', "[1, 2]", '[{"type": "tensor"}]'])
def test_corrupt_signature_json_is_an_invalid_model(bad: str) -> None:
    with pytest.raises(InvalidModel, match="signature"):
        Schema.from_json(bad)


_specs = st.lists(
    st.builds(
        ColSpec,
        type=st.sampled_from(COLUMN_TYPES),
        name=st.text(min_size=1, max_size=10),
        required=st.booleans(),
    ),
    min_size=1,
    max_size=6,
)


@given(_specs)
def test_column_schemas_survive_json(specs: list[ColSpec]) -> None:
    schema = Schema(tuple(specs))
    assert Schema.from_json(schema.to_json()) == schema


@given(
    st.lists(st.integers(min_value=-1, max_value=50), max_size=4),
    st.sampled_from(["int8", "float32", "str"]),
)
def test_tensor_schemas_survive_json(shape: list[int], dtype: str) -> None:
    schema = Schema((TensorSpec(dtype, tuple(shape)),))
    assert Schema.from_json(schema.to_json()) == schema


# -- enforcement ----------------------------------------------------------------------------------
def _enforcer(**columns: str) -> InputEnforcer:
    return InputEnforcer(Schema(tuple(ColSpec(t, n) for n, t in columns.items())))


def test_missing_column_names_the_column_and_its_type() -> None:
    enforce = _enforcer(age="long", income="double")
    with pytest.raises(SignatureMismatch, match=r"missing column 'income'.*as double") as caught:
        enforce(pd.DataFrame({"age": [1]}))
    assert (caught.value.column, caught.value.expected) == ("income", "double")


def test_optional_columns_may_be_missing() -> None:
    schema = Schema((ColSpec("long", "age"), ColSpec("double", "bonus", required=False)))
    out = InputEnforcer(schema)(pd.DataFrame({"age": [1]}))
    assert list(out.columns) == ["age"]


@pytest.mark.parametrize(
    ("expected", "values"),
    [
        ("double", np.array([1, 2], dtype=np.int64)),
        ("float", np.array([1, 2], dtype=np.int16)),
        ("double", np.array([1, 2], dtype=np.float32)),
        ("long", np.array([1, 2], dtype=np.int32)),
        ("long", np.array([1, 2], dtype=np.uint8)),
        ("integer", np.array([1, 2], dtype=np.int8)),
    ],
)
def test_safe_conversions_happen_silently(expected: str, values: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = _enforcer(x=expected)(pd.DataFrame({"x": values}))
    assert out["x"].dtype == {"double": np.float64, "float": np.float32, "long": np.int64,
                              "integer": np.int32}[expected]  # fmt: skip
    np.testing.assert_array_equal(out["x"].to_numpy(), values)


@pytest.mark.parametrize(
    ("expected", "values"),
    [
        ("long", [1.5, 2.0]),
        ("integer", np.array([1, 2], dtype=np.int64)),
        ("float", [0.1, 0.2]),
        ("double", ["1.0", "2.0"]),
        ("string", [1, 2]),
        ("boolean", [1, 0]),
        ("binary", ["a", "b"]),
    ],
)
def test_unsafe_conversions_are_refused_naming_column_and_type(expected: str, values: Any) -> None:
    with pytest.raises(SignatureMismatch, match=rf"column 'x' .* {expected}"):
        _enforcer(x=expected)(pd.DataFrame({"x": values}))


def test_integers_with_missing_values_hint_at_double() -> None:
    with pytest.raises(SignatureMismatch, match="missing values"):
        _enforcer(n="long")(pd.DataFrame({"n": [1.0, None]}))


def test_columns_are_reordered_and_extras_dropped() -> None:
    enforce = _enforcer(a="long", b="string")
    out = enforce(pd.DataFrame({"b": ["x"], "extra": [1], "a": [1]}))
    assert list(out.columns) == ["a", "b"]


def test_records_dicts_and_arrays_become_frames() -> None:
    enforce = _enforcer(a="double", b="double")
    assert list(enforce([{"a": 1.0, "b": 2.0}]).columns) == ["a", "b"]
    assert list(enforce({"a": [1.0], "b": [2.0]}).columns) == ["a", "b"]
    assert enforce(np.ones((3, 2))).shape == (3, 2)
    with pytest.raises(SignatureMismatch, match="expects a table"):
        enforce(np.ones((3, 5)))


def test_strings_are_accepted_as_object_or_string_dtype() -> None:
    enforce = _enforcer(s="string")
    enforce(pd.DataFrame({"s": pd.Series(["a"], dtype=object)}))
    enforce(pd.DataFrame({"s": pd.Series(["a"], dtype="string")}))


def test_datetimes_accept_datetime64_and_python_datetimes() -> None:
    enforce = _enforcer(t="datetime")
    enforce(pd.DataFrame({"t": pd.to_datetime(["2024-01-01"])}))
    out = enforce(pd.DataFrame({"t": pd.Series([dt.datetime(2024, 1, 1)], dtype=object)}))
    assert pd.api.types.is_datetime64_any_dtype(out["t"])


def test_tensor_shape_and_dtype_are_enforced() -> None:
    enforce = InputEnforcer(Schema((TensorSpec("float64", (-1, 4)),)))
    assert enforce(np.ones((2, 4), dtype=np.int32)).dtype == np.float64
    with pytest.raises(SignatureMismatch, match=r"shape \(2, 3\)"):
        enforce(np.ones((2, 3)))
    with pytest.raises(SignatureMismatch, match="float64"):
        enforce(np.array([["a"] * 4]))
    narrow = InputEnforcer(Schema((TensorSpec("int32", (-1,)),)))
    with pytest.raises(SignatureMismatch, match="int32"):
        narrow(np.array([1.5]))


def test_params_get_defaults_and_checked_types() -> None:
    enforce = ParamEnforcer(
        (
            ParamSpec("threshold", "double", 0.5),
            ParamSpec("k", "long", 3),
            ParamSpec("tags", "string", ["a"], (-1,)),
        )
    )
    assert enforce(None) == {"threshold": 0.5, "k": 3, "tags": ["a"]}
    assert enforce({"threshold": 1, "tags": ["b", "c"]}) == {
        "threshold": 1.0,
        "k": 3,
        "tags": ["b", "c"],
    }
    with pytest.raises(SignatureMismatch, match="Param 'k' must be long"):
        enforce({"k": 1.5})
    with pytest.raises(SignatureMismatch, match="Param 'threshold' must be double"):
        enforce({"threshold": "high"})
    with pytest.warns(UserWarning, match="Ignoring param 'nope'"):
        enforce({"nope": 1})


def test_params_without_a_params_schema_are_ignored_with_a_warning() -> None:
    with pytest.warns(UserWarning, match="declares none"):
        assert ParamEnforcer(None)({"x": 1}) is None


def test_signature_round_trips_through_its_dict() -> None:
    signature = Signature(
        Schema((ColSpec("double", "a"),)),
        Schema((TensorSpec("int64", (-1,)),)),
        (ParamSpec("when", "datetime", dt.datetime(2024, 1, 2)),),
    )
    again = Signature.from_dict(signature.to_dict())
    assert again.inputs == signature.inputs and again.outputs == signature.outputs
    assert again.params == (ParamSpec("when", "datetime", "2024-01-02T00:00:00"),)
