"""Model signatures: what a model takes and returns, stored as MLflow's JSON strings.

A schema is either *column-based* (a DataFrame: each column has a name, one of MLflow's types and
a ``required`` flag) or *tensor-based* (an array: a NumPy dtype and a shape where ``-1`` is the
batch dimension). Optional inference ``params`` have a name, a type and a default. The MLmodel
file keeps each part as a JSON string (``signature: {inputs: '[...]', outputs: ..., params: ...}``)
so the official MLflow client reads ours and we read its.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidModel, InvalidParameter

__all__ = [
    "COLUMN_TYPES",
    "ColSpec",
    "ParamSpec",
    "Schema",
    "Signature",
    "TensorSpec",
    "describe_spec",
    "infer_schema",
    "infer_signature",
    "tensor_dtype_name",
]

COLUMN_TYPES = ("boolean", "integer", "long", "float", "double", "string", "binary", "datetime")
"""The scalar column types; MLflow's ``array``, ``object``, ``map`` and ``any`` are read and kept
but only checked for presence."""


@dataclass(frozen=True, slots=True)
class ColSpec:
    type: str
    name: str | None = None
    required: bool = True
    raw: Mapping[str, Any] | None = field(default=None, compare=False)  # complex types, verbatim

    def to_dict(self) -> dict[str, Any]:
        if self.raw is not None:
            return dict(self.raw)
        named = {"name": self.name} if self.name is not None else {}
        return {"type": self.type, **named, "required": self.required}


@dataclass(frozen=True, slots=True)
class TensorSpec:
    dtype: str
    shape: tuple[int, ...]
    name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        spec = {"dtype": self.dtype, "shape": [*self.shape]}
        named = {"name": self.name} if self.name is not None else {}
        return {"type": "tensor", "tensor-spec": spec, **named}


@dataclass(frozen=True, slots=True)
class ParamSpec:
    name: str
    type: str
    default: Any
    shape: tuple[int, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        default = self.default
        if isinstance(default, dt.datetime | dt.date):
            default = default.isoformat()
        shape = None if self.shape is None else [*self.shape]
        return {"name": self.name, "default": default, "shape": shape, "type": self.type}


@dataclass(frozen=True, slots=True)
class Schema:
    """An ordered list of column specs or of tensor specs (never a mix)."""

    specs: tuple[ColSpec, ...] | tuple[TensorSpec, ...]

    @property
    def is_tensor(self) -> bool:
        return bool(self.specs) and isinstance(self.specs[0], TensorSpec)

    @property
    def names(self) -> tuple[str | None, ...]:
        return tuple(spec.name for spec in self.specs)

    def to_json(self) -> str:
        return json.dumps([spec.to_dict() for spec in self.specs])

    @classmethod
    def from_json(cls, text: str, part: str = "inputs") -> Schema:
        items = _json_list(text, part)
        if not all(isinstance(i, dict) and isinstance(i.get("type"), str) for i in items):
            raise InvalidModel(f"The signature's {part} must be a list of objects with a type")
        if any(i["type"] == "tensor" for i in items):
            return cls(tuple(_tensor_spec(i, part) for i in items))
        return cls(tuple(_col_spec(i) for i in items))


@dataclass(frozen=True, slots=True)
class Signature:
    inputs: Schema | None
    outputs: Schema | None = None
    params: tuple[ParamSpec, ...] | None = None

    def to_dict(self) -> dict[str, str | None]:
        """The MLmodel ``signature`` block: each part a JSON string (or null)."""
        return {
            "inputs": self.inputs.to_json() if self.inputs is not None else None,
            "outputs": self.outputs.to_json() if self.outputs is not None else None,
            "params": json.dumps([p.to_dict() for p in self.params]) if self.params else None,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Signature:
        def schema(part: str) -> Schema | None:
            text = raw.get(part)
            return Schema.from_json(text, part) if text else None

        params_text = raw.get("params")
        params = None
        if params_text:
            params = tuple(_param_spec(p) for p in _json_list(params_text, "params"))
        return cls(schema("inputs"), schema("outputs"), params)


# -- inference ------------------------------------------------------------------------------------
def infer_signature(
    model_input: Any, model_output: Any = None, params: Mapping[str, Any] | None = None
) -> Signature:
    """A signature from an input example, and from the model's output and params if given."""
    inputs = infer_schema(model_input)
    outputs = None
    if model_output is not None:
        outputs = infer_schema(model_output)
        if not inputs.is_tensor and outputs.is_tensor and np.ndim(model_output) == 1:
            # One prediction per row of a DataFrame: MLflow names this a single unnamed column.
            outputs = Schema((ColSpec(_numpy_column_type(np.asarray(model_output).dtype, "")),))
    param_specs = tuple(_infer_param(k, v) for k, v in params.items()) if params else None
    return Signature(inputs, outputs, param_specs)


def infer_schema(data: Any) -> Schema:
    """Column-based for DataFrames, Series, dicts and lists of dicts; tensor-based for arrays."""
    if isinstance(data, pd.Series):
        data = data.to_frame()
    if isinstance(data, Mapping) or (isinstance(data, list) and data and isinstance(data[0], dict)):
        data = pd.DataFrame(data)
    if isinstance(data, pd.DataFrame):
        return Schema(tuple(ColSpec(_column_type(data[c], str(c)), str(c)) for c in data.columns))
    array = np.asarray(data)
    if array.ndim == 0:
        raise InvalidParameter("Cannot infer a signature from a scalar; pass a batch of inputs")
    shape = (-1, *array.shape[1:])
    return Schema((TensorSpec(tensor_dtype_name(array.dtype), shape),))


def tensor_dtype_name(dtype: np.dtype[Any]) -> str:
    return {"U": "str", "S": "bytes", "O": "object"}.get(dtype.kind, dtype.name)


def _column_type(series: pd.Series, name: str) -> str:
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return _column_type(pd.Series(dtype.categories), name)
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_numeric_dtype(dtype):
        numpy_dtype: Any = getattr(dtype, "numpy_dtype", dtype)
        return _numpy_column_type(np.dtype(numpy_dtype), name)
    if isinstance(dtype, pd.StringDtype):
        return "string"
    kind = pd.api.types.infer_dtype(series, skipna=True)
    found = {"string": "string", "bytes": "binary", "boolean": "boolean", "datetime": "datetime"}
    if kind in found:
        return found[kind]
    raise InvalidParameter(
        f"Cannot infer a type for column {name!r}: its values are {kind!r}; give the column one "
        f"type ({', '.join(COLUMN_TYPES)}) or pass signature= explicitly"
    )


def _numpy_column_type(dtype: np.dtype[Any], name: str) -> str:
    if dtype.kind == "b":
        return "boolean"
    if dtype.kind in "iu":
        small = dtype.itemsize < 4 or (dtype.kind == "i" and dtype.itemsize == 4)
        return "integer" if small else "long"
    if dtype.kind == "f":
        return "float" if dtype.itemsize <= 4 else "double"
    raise InvalidParameter(f"Cannot infer a column type for {name!r} from dtype {dtype}")


def _infer_param(name: str, value: Any) -> ParamSpec:
    if isinstance(value, list | tuple | np.ndarray):
        items = list(value)
        if not items:
            raise InvalidParameter(f"Cannot infer a type for param {name!r} from an empty list")
        return ParamSpec(name, _param_type(name, items[0]), items, (-1,))
    return ParamSpec(name, _param_type(name, value), value)


def _param_type(name: str, value: Any) -> str:
    for kind, python_types in (
        ("boolean", (bool, np.bool_)),
        ("long", (int, np.integer)),
        ("double", (float, np.floating)),
        ("string", (str,)),
        ("binary", (bytes,)),
        ("datetime", (dt.datetime, dt.date)),
    ):
        if isinstance(value, python_types):
            return kind
    raise InvalidParameter(f"Param {name!r} has a value of type {type(value).__name__}")


# -- reading --------------------------------------------------------------------------------------
def _json_list(text: Any, part: str) -> list[Any]:
    try:
        items = json.loads(text) if isinstance(text, str) else text
    except json.JSONDecodeError as exc:
        raise InvalidModel(f"The signature's {part} is not valid JSON: {exc}") from None
    if not isinstance(items, list):
        raise InvalidModel(f"The signature's {part} must be a JSON list")
    return items


def _col_spec(item: Mapping[str, Any]) -> ColSpec:
    name = item.get("name")
    required = bool(item.get("required", True))
    name = None if name is None else str(name)
    if item["type"] in COLUMN_TYPES:
        return ColSpec(item["type"], name, required)
    return ColSpec(item["type"], name, required, raw=dict(item))


def _tensor_spec(item: Mapping[str, Any], part: str) -> TensorSpec:
    spec = item.get("tensor-spec")
    if item["type"] != "tensor" or not isinstance(spec, dict) or "dtype" not in spec:
        raise InvalidModel(f"The signature's {part} mixes tensors and columns, or lacks a dtype")
    shape = spec.get("shape") or []
    name = item.get("name")
    return TensorSpec(str(spec["dtype"]), tuple(int(d) for d in shape), name and str(name))


def _param_spec(item: Any) -> ParamSpec:
    if not isinstance(item, dict) or not {"name", "type"} <= item.keys():
        raise InvalidModel("Each signature param needs a name and a type")
    shape = item.get("shape")
    return ParamSpec(
        str(item["name"]),
        str(item["type"]),
        item.get("default"),
        None if shape is None else tuple(int(d) for d in shape),
    )


def describe_spec(spec: ColSpec | TensorSpec) -> str:
    """``double`` or ``tensor float64 (-1, 4)``: how messages and the CLI name an expected type."""
    if isinstance(spec, TensorSpec):
        return f"tensor {spec.dtype} {tuple(spec.shape)}"
    return spec.type
