"""Enforcing a signature at ``predict()``: accept, convert safely, or refuse naming the column.

Safe conversions happen silently (any integer to ``float``/``double``, ``int32`` to ``long``,
``float32`` to ``double``, object columns holding one clean type); anything that could change a
value (``float64`` to ``long``, ``int64`` to ``integer``, text to numbers) is refused with a
``SignatureMismatch`` naming the column and the type the signature declares. Both enforcers are
compiled once per loaded model and cache their decision per dtype, because ``predict()`` on one
row must cost microseconds, not milliseconds.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import SignatureMismatch
from shipyard.models._signature import ColSpec, ParamSpec, Schema, TensorSpec, describe_spec

__all__ = ["InputEnforcer", "ParamEnforcer"]

_KEEP = None  # a plan that leaves the column as it is
_OBJECT_KINDS = {  # pandas.api.types.infer_dtype of an object column -> types it can become
    "string": ("string",),
    "empty": ("string", "binary"),
    "bytes": ("binary",),
    "boolean": ("boolean",),
    "integer": ("integer", "long", "float", "double"),
    "floating": ("float", "double"),
    "mixed-integer-float": ("float", "double"),
    "datetime": ("datetime",),
    "datetime64": ("datetime",),
    "date": ("datetime",),
}
_TARGETS = {
    "boolean": np.dtype(bool),
    "integer": np.dtype(np.int32),
    "long": np.dtype(np.int64),
    "float": np.dtype(np.float32),
    "double": np.dtype(np.float64),
    "datetime": np.dtype("datetime64[ns]"),
}


class _Refused(Exception):
    pass


def _numpy_plan(expected: str, dtype: np.dtype[Any]) -> np.dtype[Any] | None:
    """How a NumPy column of ``dtype`` becomes ``expected``; raises ``_Refused`` if unsafe."""
    kind, size = dtype.kind, dtype.itemsize
    accepted = {
        "boolean": kind == "b",
        "integer": (kind == "i" and size <= 4) or (kind == "u" and size <= 2),
        "long": kind == "i" or (kind == "u" and size <= 4),
        "float": kind in "iu" or (kind == "f" and size <= 4),
        "double": kind in "iu" or (kind == "f" and size <= 8),
        "datetime": kind == "M",
        "string": kind == "U",
        "binary": kind == "S",
    }.get(expected, True)  # array/object/map/any: presence only
    if not accepted:
        raise _Refused
    target = _TARGETS.get(expected)
    if target is None or target == dtype or kind == "M":
        return _KEEP
    return target


def _plan(spec: ColSpec, column: pd.Series) -> Any:
    """The dtype to convert ``column`` to (``_KEEP`` for none); raises ``_Refused``."""
    dtype = column.dtype
    if spec.raw is not None:
        return _KEEP
    if isinstance(dtype, np.dtype) and dtype.kind != "O":
        return _numpy_plan(spec.type, dtype)
    if isinstance(dtype, pd.StringDtype):
        if spec.type != "string":
            raise _Refused
        return _KEEP
    if isinstance(dtype, pd.CategoricalDtype):
        _plan(spec, pd.Series(dtype.categories))
        return _KEEP
    if isinstance(dtype, pd.DatetimeTZDtype):
        return _numpy_plan(spec.type, np.dtype("datetime64[ns]"))
    if not isinstance(dtype, np.dtype):  # nullable Int64, boolean, Float64 ...
        if column.hasnans:
            raise _Refused
        numpy_dtype = np.dtype(getattr(dtype, "numpy_dtype", object))
        return _numpy_plan(spec.type, numpy_dtype) or numpy_dtype
    kind = pd.api.types.infer_dtype(column, skipna=True)
    if spec.type not in _OBJECT_KINDS.get(kind, ()):
        raise _Refused
    return _TARGETS.get(spec.type, _KEEP)


def _dtypes(frame: pd.DataFrame) -> list[Any]:
    """Column dtypes without building a Series: ``frame.dtypes`` alone costs ~25 us a call."""
    try:
        return list(frame._mgr.get_dtypes())
    except AttributeError:  # a pandas without BlockManager.get_dtypes
        return list(frame.dtypes)


def _decided_by_dtype(dtype: Any) -> bool:
    """Whether the dtype alone decides the plan (object and nullable columns depend on values)."""
    if isinstance(dtype, np.dtype):
        return dtype.kind != "O"
    return isinstance(dtype, pd.StringDtype | pd.CategoricalDtype | pd.DatetimeTZDtype)


def _refusal(spec: ColSpec | TensorSpec, name: str, actual: Any) -> SignatureMismatch:
    expected = describe_spec(spec)
    hint = ""
    if expected in ("integer", "long") and str(actual).startswith(("float", "Float")):
        hint = " (floats where integers are expected often mean missing values: declare double)"
    return SignatureMismatch(
        f"Input column {name!r} has type {actual}, which cannot be safely converted to "
        f"{expected}, the type the model's signature declares{hint}. Convert it before predict().",
        column=name,
        expected=expected,
    )


class InputEnforcer:
    """Checks and converts ``predict()`` input against an input schema."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self._tensor = schema.is_tensor
        self._specs = schema.specs
        self._names = [str(n) for n in schema.names] if all(schema.names) else None
        self._plans: dict[tuple[str | int, Any], Any] = {}

    def __call__(self, data: Any) -> Any:
        if self._tensor:
            return self._enforce_tensors(data)
        return self._enforce_frame(self._as_frame(data))

    # -- column-based -----------------------------------------------------------------------------
    def _as_frame(self, data: Any) -> pd.DataFrame:
        if isinstance(data, pd.DataFrame):
            return data
        if isinstance(data, pd.Series):
            return data.to_frame()
        if isinstance(data, Mapping) or (isinstance(data, list) and data and _all_dicts(data)):
            return pd.DataFrame(data)
        array = np.asarray(data)
        if array.ndim == 2 and array.shape[1] == len(self._specs):
            return pd.DataFrame(array, columns=self._names)
        expected = ", ".join(f"{s.name!r} ({describe_spec(s)})" for s in self._specs[:10])
        raise SignatureMismatch(
            f"The model expects a table with columns {expected}; got {type(data).__name__}"
            f" of shape {array.shape}"
        )

    def _enforce_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        specs: tuple[ColSpec, ...] = self._specs  # type: ignore[assignment]
        if self._names is not None and frame.columns.tolist() != self._names:
            frame, specs = self._select(frame, specs)
        elif self._names is None and frame.shape[1] != len(specs):
            raise SignatureMismatch(
                f"The model expects {len(specs)} columns; the input has {frame.shape[1]}"
            )
        conversions: dict[Any, Any] = {}
        for index, (spec, dtype) in enumerate(zip(specs, _dtypes(frame), strict=True)):
            key = (spec.name or index, dtype)
            plan = self._plans.get(key, self)  # self: "not decided yet"
            if plan is self:
                plan = self._decide(spec, frame.iloc[:, index], key)
            if plan is not _KEEP:
                conversions[frame.columns[index]] = plan
        return frame.astype(conversions) if conversions else frame

    def _decide(self, spec: ColSpec, column: pd.Series, key: tuple[str | int, Any]) -> Any:
        try:
            plan = _plan(spec, column)
        except (_Refused, TypeError, ValueError):
            raise _refusal(spec, str(column.name), column.dtype) from None
        if _decided_by_dtype(column.dtype):
            self._plans[key] = plan
        return plan

    def _select(
        self, frame: pd.DataFrame, specs: tuple[ColSpec, ...]
    ) -> tuple[pd.DataFrame, tuple[ColSpec, ...]]:
        """Reorder to the signature's columns, dropping extras; refuse a missing required one."""
        present = set(frame.columns)
        for spec in specs:
            if spec.required and spec.name not in present:
                given = ", ".join(repr(c) for c in list(frame.columns)[:20])
                raise SignatureMismatch(
                    f"Input is missing column {spec.name!r}: the model's signature requires it "
                    f"as {describe_spec(spec)}. The input has columns {given}.",
                    column=spec.name,
                    expected=describe_spec(spec),
                )
        kept = tuple(s for s in specs if s.name in present)
        return frame[[s.name for s in kept]], kept

    # -- tensor-based -----------------------------------------------------------------------------
    def _enforce_tensors(self, data: Any) -> Any:
        specs: tuple[TensorSpec, ...] = self._specs  # type: ignore[assignment]
        if len(specs) == 1 and not isinstance(data, Mapping):
            return self._tensor_input(specs[0], data, 0)
        if not isinstance(data, Mapping):
            names = ", ".join(repr(s.name) for s in specs)
            raise SignatureMismatch(f"The model expects a dict of tensors named {names}")
        result = dict(data)
        for index, spec in enumerate(specs):
            if spec.name not in data:
                raise SignatureMismatch(
                    f"Input is missing tensor {spec.name!r} ({describe_spec(spec)})",
                    column=spec.name,
                    expected=describe_spec(spec),
                )
            result[spec.name] = self._tensor_input(spec, data[spec.name], index)
        return result

    def _tensor_input(self, spec: TensorSpec, data: Any, index: int) -> np.ndarray[Any, Any]:
        if isinstance(data, pd.DataFrame | pd.Series):
            data = data.to_numpy()
        array = data if isinstance(data, np.ndarray) else np.asarray(data)
        expected = spec.shape
        if array.ndim != len(expected) or any(
            want not in (-1, got) for want, got in zip(expected, array.shape, strict=True)
        ):
            raise SignatureMismatch(
                f"Input tensor{_named(spec)} has shape {array.shape}; the model's signature "
                f"expects {describe_spec(spec)} (-1 is any size)",
                column=spec.name,
                expected=describe_spec(spec),
            )
        key = (index, array.dtype)
        plan = self._plans.get(key, self)
        if plan is self:
            plan = self._tensor_plan(spec, array.dtype, key)
        return array if plan is _KEEP else array.astype(plan)

    def _tensor_plan(
        self, spec: TensorSpec, dtype: np.dtype[Any], key: tuple[str | int, Any]
    ) -> Any:
        try:
            target = np.dtype(spec.dtype) if spec.dtype not in ("str", "bytes") else None
        except TypeError:
            target = None
        if target is None or dtype == target:
            plan = _KEEP
        elif np.can_cast(dtype, target, "safe") or (dtype.kind in "iu" and target.kind == "f"):
            plan = target
        else:
            raise _refusal(spec, spec.name or "(tensor)", dtype)
        self._plans[key] = plan
        return plan


class ParamEnforcer:
    """Fills in defaults and checks the types of ``predict(..., params=...)``."""

    def __init__(self, specs: tuple[ParamSpec, ...] | None) -> None:
        self._specs = {spec.name: spec for spec in specs or ()}
        self._defaults = {spec.name: spec.default for spec in specs or ()}

    def __call__(self, params: Mapping[str, Any] | None) -> dict[str, Any] | None:
        if not self._specs:
            if params:
                warnings.warn(
                    f"Ignoring params {sorted(params)}: the model's signature declares none",
                    stacklevel=3,
                )
            return None
        resolved = dict(self._defaults)
        for key, value in (params or {}).items():
            spec = self._specs.get(key)
            if spec is None:
                known = sorted(self._specs)
                warnings.warn(f"Ignoring param {key!r}: the model knows {known}", stacklevel=3)
                continue
            resolved[key] = _param_value(spec, value)
        return resolved


def _param_value(spec: ParamSpec, value: Any) -> Any:
    if spec.shape is not None:
        if not isinstance(value, list | tuple | np.ndarray):
            raise _param_refusal(spec, value)
        return [_scalar_param(spec, item) for item in value]
    return _scalar_param(spec, value)


def _scalar_param(spec: ParamSpec, value: Any) -> Any:
    is_bool = isinstance(value, bool | np.bool_)
    if spec.type == "boolean" and is_bool:
        return bool(value)
    if spec.type in ("integer", "long") and isinstance(value, int | np.integer) and not is_bool:
        return int(value)
    number = isinstance(value, int | float | np.number) and not is_bool
    if spec.type in ("float", "double") and number:
        return float(value)
    if spec.type == "string" and isinstance(value, str):
        return value
    if spec.type == "binary" and isinstance(value, bytes):
        return value
    if spec.type == "datetime" and isinstance(value, dt.datetime | str):
        try:
            return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)
        except ValueError:
            pass
    raise _param_refusal(spec, value)


def _param_refusal(spec: ParamSpec, value: Any) -> SignatureMismatch:
    kind = spec.type if spec.shape is None else f"a list of {spec.type}"
    return SignatureMismatch(
        f"Param {spec.name!r} must be {kind}, the type the model's signature declares; "
        f"got {value!r}",
        column=spec.name,
        expected=spec.type,
    )


def _named(spec: TensorSpec) -> str:
    return f" {spec.name!r}" if spec.name else ""


def _all_dicts(items: list[Any]) -> bool:
    return all(isinstance(item, dict) for item in items)
