"""Input rules for tracking data: MLflow's limits and key syntax, checked once for every backend."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence

from shipyard.entities import DatasetInput, Metric, MetricColumns, Param, RunStatus, Tag
from shipyard.errors import InvalidParameter
from shipyard.settings import Limits

__all__ = [
    "check_batch",
    "check_dataset_inputs",
    "check_experiment_name",
    "check_key",
    "check_max_results",
    "check_run_id",
    "check_status",
    "param_value",
    "tag_value",
]

_KEY = re.compile(r"^[/\w.\- :]*$")
_RUN_ID = re.compile(r"^[a-zA-Z0-9][\w\-]{0,255}$")


def check_key(kind: str, key: object, limits: Limits) -> str:
    if not isinstance(key, str) or not key:
        raise InvalidParameter(f"Invalid {kind} name: {key!r}. Names must be non-empty strings.")
    if len(key) > limits.max_key_length:
        raise InvalidParameter(
            f"{kind.capitalize()} name '{key[:40]}...' is {len(key)} characters long; "
            f"the limit is {limits.max_key_length}."
        )
    if not _KEY.match(key):
        raise InvalidParameter(
            f"Invalid {kind} name: '{key}'. Names may only contain alphanumerics, underscores "
            "(_), dashes (-), periods (.), spaces ( ), colons (:) and slashes (/)."
        )
    # As MLflow: a name must be its own normal path and must not climb out of its folder.
    if posixpath.normpath(key) != key or key == "." or key.startswith(("/", "..")):
        raise InvalidParameter(
            f"Invalid {kind} name: '{key}'. Names cannot contain path segments like '..', "
            "'.', '//', begin with '..' or '/', or end with '/'."
        )
    return key


def _bounded(kind: str, key: str, value: str, limit: int, truncate: bool) -> str:
    if len(value) <= limit:
        return value
    if truncate:
        return value[:limit]
    raise InvalidParameter(
        f"{kind.capitalize()} value for '{key}' is {len(value)} characters long; "
        f"the limit is {limit}."
    )


def param_value(key: str, value: object, limits: Limits) -> str:
    text = value if isinstance(value, str) else str(value)
    return _bounded("param", key, text, limits.max_param_value_length, limits.truncate_long_values)


def tag_value(key: str, value: object, limits: Limits) -> str:
    text = value if isinstance(value, str) else str(value)
    return _bounded("tag", key, text, limits.max_tag_value_length, limits.truncate_long_values)


_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1


def _bad_metric(m: Metric) -> str | None:
    """Why a metric point is malformed, or None; the slow path behind ``_check_metrics``."""
    if isinstance(m.value, bool) or not isinstance(m.value, int | float):
        return f"Metric '{m.key}' has value {m.value!r}, which is not a number."
    for field, v in (("timestamp", m.timestamp), ("step", m.step)):
        if isinstance(v, bool) or not isinstance(v, int):
            return f"Metric '{m.key}' has {field} {v!r}; expected an integer."
        if not _I64_MIN <= v <= _I64_MAX:
            return f"Metric '{m.key}' {field} {v} is out of the 64-bit range."
    if m.timestamp < 0:  # MLflow refuses them too
        return f"Metric '{m.key}' has timestamp {m.timestamp}; timestamps must not be negative."
    return None


def _check_metrics(metrics: Sequence[Metric], limits: Limits) -> None:
    # Keys repeat across a batch (a few names, many steps): check each distinct key once, then
    # run the per-point test only on points that are not the plain float/int common case.
    if isinstance(metrics, MetricColumns):
        # Types are the columns' own guarantee: what is left is a key check per distinct key
        # and the int64 range, on each column's extremes.
        for key in set(metrics.keys):
            check_key("metric", key, limits)
        stamps, steps = metrics.stamps, metrics.steps
        if not stamps or (
            min(stamps) >= 0
            and max(stamps) <= _I64_MAX
            and min(steps) >= _I64_MIN
            and max(steps) <= _I64_MAX
        ):
            return
    else:
        for key in {m.key for m in metrics}:
            check_key("metric", key, limits)
    for m in metrics:
        if (
            type(m.value) is float
            and type(m.step) is int
            and type(m.timestamp) is int
            and _I64_MIN <= m.step <= _I64_MAX
            and 0 <= m.timestamp <= _I64_MAX
        ):
            continue
        problem = _bad_metric(m)
        if problem:
            raise InvalidParameter(problem)


def check_batch(
    metrics: Sequence[Metric], params: Sequence[Param], tags: Sequence[Tag], limits: Limits
) -> tuple[list[Param], list[Tag]]:
    """Check a batch against the limits; returns params and tags with long values truncated."""
    counts = (
        ("metrics", len(metrics), limits.max_batch_metrics),
        ("params", len(params), limits.max_batch_params),
        ("tags", len(tags), limits.max_batch_tags),
        ("entities", len(metrics) + len(params) + len(tags), limits.max_batch_total),
    )
    for what, n, limit in counts:
        if n > limit:
            raise InvalidParameter(
                f"A batch logging request can contain at most {limit} {what}. Got {n} {what}. "
                "Please split up the batch into smaller batches."
            )
    _check_metrics(metrics, limits)
    out_params = [
        Param(check_key("param", p.key, limits), param_value(p.key, p.value, limits))
        for p in params
    ]
    out_tags = [
        Tag(check_key("tag", t.key, limits), tag_value(t.key, t.value, limits)) for t in tags
    ]
    return out_params, out_tags


def check_experiment_name(name: object, limits: Limits) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidParameter("Invalid experiment name: the name must be a non-empty string.")
    if len(name) > limits.max_experiment_name_length:
        raise InvalidParameter(
            f"Experiment name is {len(name)} characters long; "
            f"the limit is {limits.max_experiment_name_length}."
        )
    return name


def check_run_id(run_id: object) -> str:
    if not isinstance(run_id, str) or not _RUN_ID.match(run_id):
        raise InvalidParameter(f"Invalid run ID: {run_id!r}")
    return run_id


def check_status(status: object) -> str:
    try:
        return RunStatus(str(status)).value
    except ValueError:
        allowed = ", ".join(s.value for s in RunStatus)
        raise InvalidParameter(
            f"Invalid run status {status!r}; expected one of {allowed}."
        ) from None


_DATASET_LIMITS = (("name", 500), ("digest", 36), ("source", 65535))


def check_dataset_inputs(items: Sequence[DatasetInput]) -> None:
    for item in items:
        ds = item.dataset
        for field, limit in _DATASET_LIMITS:
            value = getattr(ds, field)
            if not isinstance(value, str) or not value:
                raise InvalidParameter(f"Dataset {field} must be a non-empty string.")
            if len(value) > limit:
                raise InvalidParameter(f"Dataset {field} exceeds the maximum length of {limit}.")
        if ds.schema is not None and len(ds.schema) > 1048575:
            raise InvalidParameter("Dataset schema exceeds the maximum length of 1048575.")
        if ds.profile is not None and len(ds.profile) > 16777215:
            raise InvalidParameter("Dataset profile exceeds the maximum length of 16777215.")
        for t in item.tags:
            if not t.key or len(t.key) > 255:
                raise InvalidParameter("Input tag key must be 1 to 255 characters.")
            if len(t.value) > 500:
                raise InvalidParameter(f"Input tag value for '{t.key}' exceeds 500 characters.")


def check_max_results(max_results: int, limit: int | None = None) -> int:
    if isinstance(max_results, bool) or not isinstance(max_results, int) or max_results < 1:
        raise InvalidParameter(f"max_results must be a positive integer, got {max_results!r}.")
    if limit is not None and max_results > limit:
        raise InvalidParameter(
            f"Invalid value {max_results} for parameter 'max_results' supplied. "
            f"It must be at most {limit}."
        )
    return max_results
