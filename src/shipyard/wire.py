"""MLflow's JSON shapes for Shipyard's entities, both directions.

MLflow's client writes and reads protobuf JSON: enums as names, ``None`` fields left out, empty
lists left out, non-finite doubles as the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``,
and int64 fields as numbers (though a protobuf reader also accepts them as strings). The server
uses the ``*_to_json`` half to answer; the REST client uses the ``*_from_json`` half to read those
answers back into entities, so both sides agree on one codec.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from shipyard.entities import (
    Dataset,
    DatasetInput,
    Experiment,
    LoggedModel,
    LoggedModelStatus,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    Tag,
)
from shipyard.errors import InvalidParameter

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "dataset_input_from_json",
    "dataset_input_to_json",
    "double_from_json",
    "double_to_json",
    "experiment_from_json",
    "experiment_to_json",
    "int64_from_json",
    "logged_model_from_json",
    "logged_model_status_from_json",
    "logged_model_status_to_json",
    "logged_model_to_json",
    "metric_from_json",
    "metric_to_json",
    "param_from_json",
    "run_from_json",
    "run_info_from_json",
    "run_info_to_json",
    "run_info_values_to_json",
    "run_to_json",
    "tag_from_json",
    "tags_from_json",
    "tags_to_json",
]

Json = dict[str, Any]

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
_INT_TEXT = re.compile(r"[+-]?[0-9]{1,25}\Z")

_NON_FINITE_IN = {
    "NaN": math.nan,
    "Infinity": math.inf,
    "-Infinity": -math.inf,
}


# -- scalars ----------------------------------------------------------------------------------
def double_to_json(value: float) -> float | str:
    """A double as protobuf JSON writes it: non-finite values become strings."""
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def double_from_json(value: object, field: str = "value") -> float:
    """A double from a number, a numeric string, or ``"NaN"``/``"Infinity"``/``"-Infinity"``."""
    if isinstance(value, bool):
        raise InvalidParameter(f"Invalid value {value!r} for parameter '{field}': not a number.")
    if isinstance(value, float | int):
        try:
            return float(value)
        except OverflowError:  # an int past the double range
            return math.inf if value > 0 else -math.inf
    if isinstance(value, str):
        special = _NON_FINITE_IN.get(value)
        if special is not None:
            return special
        try:
            return float(value)
        except ValueError:
            pass
    raise InvalidParameter(f"Invalid value {value!r} for parameter '{field}': not a number.")


def int64_from_json(value: object, field: str) -> int:
    """An int64 from a number or a decimal string, range-checked like protobuf does."""
    if isinstance(value, bool):
        raise InvalidParameter(f"Invalid value {value!r} for parameter '{field}': not an integer.")
    result: int | None = None
    if isinstance(value, int):
        result = value
    elif (isinstance(value, float) and value.is_integer()) or (
        isinstance(value, str) and _INT_TEXT.match(value)
    ):
        result = int(value)
    if result is None:
        raise InvalidParameter(f"Invalid value {value!r} for parameter '{field}': not an integer.")
    if not INT64_MIN <= result <= INT64_MAX:
        raise InvalidParameter(
            f"Invalid value {value!r} for parameter '{field}': out of the 64-bit range."
        )
    return result


def _put(out: Json, key: str, value: object) -> None:
    if value is not None:
        out[key] = value


# -- to JSON ----------------------------------------------------------------------------------
def tags_to_json(tags: Mapping[str, str] | Iterable[Tag]) -> list[Json]:
    if isinstance(tags, Mapping):
        return [{"key": k, "value": v} for k, v in tags.items()]
    return [{"key": t.key, "value": t.value} for t in tags]


def experiment_to_json(exp: Experiment) -> Json:
    out: Json = {
        "experiment_id": exp.experiment_id,
        "name": exp.name,
        "artifact_location": exp.artifact_location,
        "lifecycle_stage": exp.lifecycle_stage,
    }
    _put(out, "last_update_time", exp.last_update_time)
    _put(out, "creation_time", exp.creation_time)
    if exp.tags:
        out["tags"] = tags_to_json(exp.tags)
    return out


def metric_to_json(m: Metric) -> Json:
    raw = m.value
    # NaN or ±inf (x - x is 0.0 for every finite x): the common case skips the conversion.
    value = raw if raw - raw == 0 else double_to_json(raw)
    out: Json = {"key": m.key, "value": value, "timestamp": m.timestamp, "step": m.step}
    if m.model_id is not None:  # only points linked to a logged model carry these
        _put(out, "dataset_name", m.dataset_name)
        _put(out, "dataset_digest", m.dataset_digest)
        out["model_id"] = m.model_id
        _put(out, "run_id", m.run_id)
    return out


def run_info_to_json(info: RunInfo) -> Json:
    return run_info_values_to_json(
        info.run_id,
        info.run_name,
        info.experiment_id,
        info.user_id,
        info.status,
        info.start_time,
        info.end_time,
        info.artifact_uri,
        info.lifecycle_stage,
    )


def run_info_values_to_json(
    run_id: str,
    run_name: str | None,
    experiment_id: str | int,
    user_id: str | None,
    status: str,
    start_time: int | None,
    end_time: int | None,
    artifact_uri: str | None,
    lifecycle_stage: str,
) -> Json:
    """A run's info as the wire has it, from its values in the store's column order (the
    server's read path passes a database row's values straight in)."""
    out: Json = {
        "run_id": run_id,
        "run_uuid": run_id,
        "run_name": run_name or "",
        "experiment_id": str(experiment_id),
        "user_id": user_id or "",
        "status": status,
    }
    _put(out, "start_time", start_time)
    _put(out, "end_time", end_time)
    out["artifact_uri"] = artifact_uri or ""
    out["lifecycle_stage"] = lifecycle_stage
    return out


def dataset_input_to_json(item: DatasetInput) -> Json:
    ds = item.dataset
    dataset: Json = {
        "name": ds.name,
        "digest": ds.digest,
        "source_type": ds.source_type,
        "source": ds.source,
    }
    _put(dataset, "schema", ds.schema)
    _put(dataset, "profile", ds.profile)
    out: Json = {"dataset": dataset}
    if item.tags:
        out["tags"] = tags_to_json(item.tags)
    return out


def _run_data_to_json(data: RunData) -> Json:
    out: Json = {}
    if data.metrics:
        out["metrics"] = [metric_to_json(m) for m in data.metrics]
    if data.params:
        out["params"] = tags_to_json(data.params)
    if data.tags:
        out["tags"] = tags_to_json(data.tags)
    return out


def run_to_json(run: Run) -> Json:
    inputs: Json = {}
    if run.inputs:
        inputs["dataset_inputs"] = [dataset_input_to_json(d) for d in run.inputs]
    if run.model_inputs:
        inputs["model_inputs"] = [{"model_id": m} for m in run.model_inputs]
    outputs: Json = {}
    if run.model_outputs:
        outputs["model_outputs"] = [{"model_id": m, "step": s} for m, s in run.model_outputs]
    return {
        "info": run_info_to_json(run.info),
        "data": _run_data_to_json(run.data),
        "inputs": inputs,
        "outputs": outputs,
    }


# -- from JSON --------------------------------------------------------------------------------
def _str(obj: Mapping[str, Any], key: str, default: str = "") -> str:
    value = obj.get(key)
    return default if value is None else str(value)


def _opt_int(obj: Mapping[str, Any], key: str) -> int | None:
    value = obj.get(key)
    return None if value is None else int64_from_json(value, key)


def tag_from_json(obj: Mapping[str, Any]) -> Tag:
    return Tag(_str(obj, "key"), _str(obj, "value"))


def param_from_json(obj: Mapping[str, Any]) -> Param:
    return Param(_str(obj, "key"), _str(obj, "value"))


def tags_from_json(items: Iterable[Mapping[str, Any]] | None) -> dict[str, str]:
    return {_str(t, "key"): _str(t, "value") for t in items or ()}


def _opt_str(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return None if value is None or value == "" else str(value)


def metric_from_json(obj: Mapping[str, Any]) -> Metric:
    return Metric(
        key=_str(obj, "key"),
        value=double_from_json(obj.get("value", 0.0)),
        timestamp=int64_from_json(obj.get("timestamp", 0), "timestamp"),
        step=int64_from_json(obj.get("step", 0), "step"),
        model_id=_opt_str(obj, "model_id"),
        dataset_name=_opt_str(obj, "dataset_name"),
        dataset_digest=_opt_str(obj, "dataset_digest"),
        run_id=_opt_str(obj, "run_id"),
    )


def experiment_from_json(obj: Mapping[str, Any]) -> Experiment:
    return Experiment(
        experiment_id=_str(obj, "experiment_id"),
        name=_str(obj, "name"),
        artifact_location=_str(obj, "artifact_location"),
        lifecycle_stage=_str(obj, "lifecycle_stage", "active"),
        creation_time=_opt_int(obj, "creation_time"),
        last_update_time=_opt_int(obj, "last_update_time"),
        tags=tags_from_json(obj.get("tags")),
    )


def run_info_from_json(obj: Mapping[str, Any]) -> RunInfo:
    return RunInfo(
        run_id=_str(obj, "run_id") or _str(obj, "run_uuid"),
        experiment_id=_str(obj, "experiment_id"),
        run_name=_str(obj, "run_name"),
        user_id=_str(obj, "user_id"),
        status=_str(obj, "status", "RUNNING"),
        start_time=_opt_int(obj, "start_time"),
        end_time=_opt_int(obj, "end_time"),
        artifact_uri=_str(obj, "artifact_uri"),
        lifecycle_stage=_str(obj, "lifecycle_stage", "active"),
    )


def dataset_input_from_json(obj: Mapping[str, Any]) -> DatasetInput:
    ds = obj.get("dataset") or {}
    dataset = Dataset(
        name=_str(ds, "name"),
        digest=_str(ds, "digest"),
        source_type=_str(ds, "source_type"),
        source=_str(ds, "source"),
        schema=ds.get("schema"),
        profile=ds.get("profile"),
    )
    return DatasetInput(dataset, tuple(tag_from_json(t) for t in obj.get("tags") or ()))


def run_from_json(obj: Mapping[str, Any]) -> Run:
    data = obj.get("data") or {}
    inputs = obj.get("inputs") or {}
    outputs = obj.get("outputs") or {}
    return Run(
        info=run_info_from_json(obj.get("info") or {}),
        data=RunData(
            metrics=[metric_from_json(m) for m in data.get("metrics") or ()],
            params=tags_from_json(data.get("params")),
            tags=tags_from_json(data.get("tags")),
        ),
        inputs=[dataset_input_from_json(d) for d in inputs.get("dataset_inputs") or ()],
        model_inputs=[_str(m, "model_id") for m in inputs.get("model_inputs") or ()],
        model_outputs=[
            (_str(m, "model_id"), int64_from_json(m.get("step", 0), "step"))
            for m in outputs.get("model_outputs") or ()
        ],
    )


# -- logged models (MLflow 3) -----------------------------------------------------------------
# The wire spells statuses as protobuf enum names; proto JSON readers also take the numbers.
_STATUS_TO_WIRE = {
    LoggedModelStatus.PENDING.value: "LOGGED_MODEL_PENDING",
    LoggedModelStatus.READY.value: "LOGGED_MODEL_READY",
    LoggedModelStatus.FAILED.value: "LOGGED_MODEL_UPLOAD_FAILED",
}
_STATUS_FROM_WIRE: dict[object, str] = {
    **{wire: ours for ours, wire in _STATUS_TO_WIRE.items()},
    1: LoggedModelStatus.PENDING.value,
    2: LoggedModelStatus.READY.value,
    3: LoggedModelStatus.FAILED.value,
}


def logged_model_status_to_json(status: str) -> str:
    return _STATUS_TO_WIRE.get(status, "LOGGED_MODEL_STATUS_UNSPECIFIED")


def logged_model_status_from_json(value: object) -> str:
    """A ``LoggedModelStatus`` value from the wire's name (or number); UNSPECIFIED is refused."""
    found = _STATUS_FROM_WIRE.get(value) if isinstance(value, str | int) else None
    if found is None or isinstance(value, bool):
        allowed = ", ".join(_STATUS_TO_WIRE.values())
        raise InvalidParameter(
            f"Invalid value {value!r} for parameter 'status'; expected one of {allowed}."
        )
    return found


def _status_or_pending(value: object) -> str:
    found = _STATUS_FROM_WIRE.get(value) if isinstance(value, str | int) else None
    return found or LoggedModelStatus.PENDING.value


def logged_model_to_json(model: LoggedModel) -> Json:
    info: Json = {
        "model_id": model.model_id,
        "experiment_id": model.experiment_id,
        "name": model.name,
        "creation_timestamp_ms": model.creation_time,
        "last_updated_timestamp_ms": model.last_updated_time,
        "artifact_uri": model.artifact_uri,
        "status": logged_model_status_to_json(model.status),
    }
    _put(info, "model_type", model.model_type)
    _put(info, "source_run_id", model.source_run_id)
    _put(info, "status_message", model.status_message)
    if model.tags:
        info["tags"] = tags_to_json(model.tags)
    data: Json = {}
    if model.params:
        data["params"] = tags_to_json(model.params)
    if model.metrics:
        data["metrics"] = [metric_to_json(m) for m in model.metrics]
    return {"info": info, "data": data}


def logged_model_from_json(obj: Mapping[str, Any]) -> LoggedModel:
    info = obj.get("info") or {}
    data = obj.get("data") or {}
    return LoggedModel(
        model_id=_str(info, "model_id"),
        experiment_id=_str(info, "experiment_id"),
        name=_str(info, "name"),
        artifact_uri=_str(info, "artifact_uri"),
        creation_time=_opt_int(info, "creation_timestamp_ms") or 0,
        last_updated_time=_opt_int(info, "last_updated_timestamp_ms") or 0,
        status=_status_or_pending(info.get("status")),
        model_type=_opt_str(info, "model_type"),
        source_run_id=_opt_str(info, "source_run_id"),
        status_message=_opt_str(info, "status_message"),
        tags=tags_from_json(info.get("tags")),
        params=tags_from_json(data.get("params")),
        metrics=[metric_from_json(m) for m in data.get("metrics") or ()],
    )
