"""Open Inference Protocol v2 (KServe, Triton, MLServer): tensors in, tensors out.

An ``infer`` request names its inputs; for a column-based model each input is a column (or one
``[rows, columns]`` input fills the signature's columns in order), for a tensor model each input is
a tensor. Outputs are the predictions as tensors with a shape and an OIP datatype.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import orjson
import pandas as pd

from shipyard.errors import BadRequest
from shipyard.models import ColSpec, TensorSpec
from shipyard.serving._source import Served

__all__ = ["decode_infer", "encode_infer", "model_metadata"]

_TO_NUMPY = {
    "BOOL": np.bool_, "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32,
    "UINT64": np.uint64, "INT8": np.int8, "INT16": np.int16, "INT32": np.int32,
    "INT64": np.int64, "FP16": np.float16, "FP32": np.float32, "FP64": np.float64,
    "BYTES": object,
}  # fmt: skip
_COLUMN_TYPES = {
    "boolean": "BOOL", "integer": "INT32", "long": "INT64", "float": "FP32",
    "double": "FP64", "string": "BYTES", "binary": "BYTES", "datetime": "BYTES",
}  # fmt: skip


def decode_infer(body: bytes, served: Served) -> tuple[Any, dict[str, Any] | None, Any]:
    """``(model input, params, request id from the body)`` of an ``infer`` request."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"The body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("inputs"), list):
        raise BadRequest("An infer request is a JSON object with a list of 'inputs'")
    tensors = [_tensor(item, index) for index, item in enumerate(payload["inputs"])]
    if not tensors:
        raise BadRequest("'inputs' is empty")
    params = payload.get("parameters")
    if isinstance(params, dict):
        params = {k: v for k, v in params.items() if k not in ("content_type", "headers")} or None
    else:
        params = None
    return _model_input(tensors, served), params, payload.get("id")


def _tensor(item: Any, index: int) -> tuple[str, np.ndarray[Any, Any]]:
    if not isinstance(item, dict):
        raise BadRequest(f"inputs[{index}] must be an object with name, shape, datatype, data")
    name = item.get("name")
    shape, datatype, data = item.get("shape"), item.get("datatype"), item.get("data")
    if not isinstance(name, str) or not isinstance(shape, list) or data is None:
        raise BadRequest(f"inputs[{index}] needs 'name', 'shape' and 'data'")
    dtype = _TO_NUMPY.get(str(datatype).upper())
    if dtype is None:
        raise BadRequest(
            f"inputs[{index}] ({name!r}) has datatype {datatype!r}; use one of {sorted(_TO_NUMPY)}"
        )
    try:
        array: np.ndarray[Any, Any] = np.asarray(data, dtype=dtype).reshape([int(n) for n in shape])
    except (ValueError, TypeError) as exc:
        raise BadRequest(
            f"inputs[{index}] ({name!r}): data does not fit shape {shape} as {datatype}: {exc}"
        ) from None
    return name, array


def _model_input(tensors: list[tuple[str, np.ndarray[Any, Any]]], served: Served) -> Any:
    columns = served.columns
    if columns is not None:
        if len(tensors) == 1 and tensors[0][1].ndim == 2 and tensors[0][0] not in columns:
            array = tensors[0][1]
            if array.shape[1] != len(columns):
                raise BadRequest(
                    f"Input {tensors[0][0]!r} has {array.shape[1]} columns; the model's "
                    f"signature has {len(columns)}: {', '.join(columns)}"
                )
            return pd.DataFrame(array, columns=list(columns), copy=False)
        return pd.DataFrame({name: array.reshape(len(array), -1)[:, 0] if array.ndim > 1 else array
                             for name, array in tensors})  # fmt: skip
    if len(tensors) == 1:
        return tensors[0][1]
    signature = served.model.signature
    if signature is not None and signature.inputs is not None and signature.inputs.is_tensor:
        return dict(tensors)
    return pd.DataFrame({name: array.reshape(-1) for name, array in tensors})


def _datatype(dtype: np.dtype[Any]) -> str:
    for name, numpy_type in _TO_NUMPY.items():
        if numpy_type is not object and dtype == np.dtype(numpy_type):
            return name
    return "BYTES"


def _output(name: str, value: Any) -> dict[str, Any]:
    array = value.to_numpy() if isinstance(value, pd.Series) else np.asarray(value)
    datatype = _datatype(array.dtype)
    data: Any = array.reshape(-1)
    if datatype == "BYTES":
        data = [str(v) for v in data.tolist()]
    elif not data.flags.c_contiguous:
        data = np.ascontiguousarray(data)
    return {"name": name, "shape": list(array.shape), "datatype": datatype, "data": data}


def encode_infer(predictions: Any, served: Served, request_id: Any) -> dict[str, Any]:
    if isinstance(predictions, pd.DataFrame):
        outputs = [_output(str(c), predictions[c]) for c in predictions.columns]
    elif isinstance(predictions, Mapping):
        outputs = [_output(str(k), v) for k, v in predictions.items()]
    else:
        outputs = [_output("predict", predictions)]
    answer: dict[str, Any] = {
        "model_name": served.name,
        "model_version": served.version,
        "outputs": outputs,
    }
    if request_id is not None:
        answer["id"] = str(request_id)
    return answer


def model_metadata(served: Served) -> dict[str, Any]:
    signature = served.model.signature
    inputs = _specs(signature.inputs if signature else None)
    outputs = _specs(signature.outputs if signature else None)
    return {
        "name": served.name,
        "versions": [served.version],
        "platform": "shipyard",
        "inputs": inputs,
        "outputs": outputs,
    }


def _specs(schema: Any) -> list[dict[str, Any]]:
    if schema is None:
        return []
    result = []
    for index, spec in enumerate(schema.specs):
        name = spec.name or f"input-{index}"
        if isinstance(spec, TensorSpec):
            text = spec.dtype in ("str", "bytes")
            datatype = "BYTES" if text else _datatype(np.dtype(spec.dtype))
            result.append({"name": name, "datatype": datatype, "shape": list(spec.shape)})
        elif isinstance(spec, ColSpec):
            datatype = _COLUMN_TYPES.get(spec.type, "BYTES")
            result.append({"name": name, "datatype": datatype, "shape": [-1]})
    return result
