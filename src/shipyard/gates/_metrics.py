"""Metrics by name: any ``sklearn.metrics`` function, what it needs and which way is better.

A policy names a metric (``f1``, ``roc_auc``, ``mean_squared_error`` ...). Common names have a
short alias and known needs; any other public function of ``sklearn.metrics`` works too, its
direction read from the name (``*_score`` higher is better, ``*_error``/``*_loss`` lower) unless the
policy says. Point values always come from scikit-learn itself, so a gate reports the same number
a notebook would.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import sklearn.metrics

from shipyard.errors import InvalidParameter

__all__ = ["MetricSpec", "Outputs", "Response", "metric_value", "resolve_metric"]

Response = Literal["label", "proba", "score"]
"""What a metric reads: predicted labels or values, the probability matrix, or the positive
class's score (binary) / the matrix (multiclass, one-vs-rest)."""


def selection_rate(
    y_true: Any, y_pred: Any, *, pos_label: Any = 1, sample_weight: Any = None
) -> float:
    """Share of rows predicted positive (demographic parity compares it between groups)."""
    hits = np.asarray(y_pred) == pos_label
    return float(np.average(hits, weights=sample_weight))


def false_positive_rate(
    y_true: Any, y_pred: Any, *, pos_label: Any = 1, sample_weight: Any = None
) -> float:
    negatives = np.asarray(y_true) != pos_label
    weights = np.ones(len(negatives)) if sample_weight is None else np.asarray(sample_weight)
    total = float(weights[negatives].sum())
    if total == 0:
        return 0.0
    return float(weights[negatives & (np.asarray(y_pred) == pos_label)].sum() / total)


@dataclass(frozen=True, slots=True)
class _Known:
    function: str
    response: Response
    greater_is_better: bool
    task: str
    positive: bool = False  # takes pos_label (binary) / average (multiclass)


_KNOWN: dict[str, _Known] = {
    "accuracy": _Known("accuracy_score", "label", True, "classification"),
    "balanced_accuracy": _Known("balanced_accuracy_score", "label", True, "classification"),
    "f1": _Known("f1_score", "label", True, "classification", True),
    "precision": _Known("precision_score", "label", True, "classification", True),
    "recall": _Known("recall_score", "label", True, "classification", True),
    "true_positive_rate": _Known("recall_score", "label", True, "classification", True),
    "matthews_corrcoef": _Known("matthews_corrcoef", "label", True, "classification"),
    "selection_rate": _Known("selection_rate", "label", True, "classification", True),
    "false_positive_rate": _Known("false_positive_rate", "label", False, "classification", True),
    "roc_auc": _Known("roc_auc_score", "score", True, "classification"),
    "average_precision": _Known("average_precision_score", "score", True, "classification"),
    "log_loss": _Known("log_loss", "proba", False, "classification"),
    "brier": _Known("brier_score_loss", "score", False, "classification"),
    "mean_squared_error": _Known("mean_squared_error", "label", False, "regression"),
    "mse": _Known("mean_squared_error", "label", False, "regression"),
    "root_mean_squared_error": _Known("root_mean_squared_error", "label", False, "regression"),
    "rmse": _Known("root_mean_squared_error", "label", False, "regression"),
    "mean_absolute_error": _Known("mean_absolute_error", "label", False, "regression"),
    "mae": _Known("mean_absolute_error", "label", False, "regression"),
    "r2": _Known("r2_score", "label", True, "regression"),
    "mean_absolute_percentage_error": _Known(
        "mean_absolute_percentage_error", "label", False, "regression"
    ),
    "median_absolute_error": _Known("median_absolute_error", "label", False, "regression"),
    "explained_variance": _Known("explained_variance_score", "label", True, "regression"),
}
_ALIASES = {
    "accuracy_score": "accuracy",
    "balanced_accuracy_score": "balanced_accuracy",
    "f1_score": "f1",
    "precision_score": "precision",
    "recall_score": "recall",
    "roc_auc_score": "roc_auc",
    "average_precision_score": "average_precision",
    "brier_score_loss": "brier",
    "r2_score": "r2",
    "explained_variance_score": "explained_variance",
}
_CUSTOM: dict[str, Callable[..., float]] = {
    "selection_rate": selection_rate,
    "false_positive_rate": false_positive_rate,
}


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """A resolved metric: ``key`` is the canonical name the vectorised bootstrap knows."""

    key: str
    function: Callable[..., Any]
    response: Response
    greater_is_better: bool
    task: str | None
    takes_positive: bool = False
    kwargs: Mapping[str, Any] = field(default_factory=dict)


def resolve_metric(
    name: str,
    kwargs: Mapping[str, Any] | None = None,
    *,
    greater_is_better: bool | None = None,
    response: Response | None = None,
) -> MetricSpec:
    """The metric ``name`` names; ``InvalidParameter`` if scikit-learn has no such metric."""
    key = _ALIASES.get(name, name)
    known = _KNOWN.get(key)
    if known is not None:
        function = _CUSTOM.get(known.function) or getattr(sklearn.metrics, known.function)
        better = known.greater_is_better if greater_is_better is None else greater_is_better
        return MetricSpec(
            key, function, response or known.response, better, known.task, known.positive,
            dict(kwargs or {}),
        )  # fmt: skip
    function = getattr(sklearn.metrics, name, None)
    if name.startswith("_") or not callable(function) or isinstance(function, type):
        raise InvalidParameter(
            f"Unknown metric {name!r}: use a function of sklearn.metrics (e.g. f1_score, "
            f"mean_squared_error) or one of {', '.join(sorted(_KNOWN))}"
        )
    direction = greater_is_better if greater_is_better is not None else _direction(name)
    if direction is None:
        raise InvalidParameter(
            f"Cannot tell whether a higher {name!r} is better: set greater_is_better"
        )
    return MetricSpec(
        name, function, response or "label", direction, None, False, dict(kwargs or {})
    )


def _direction(name: str) -> bool | None:
    if name.endswith(("_score", "_corrcoef")):
        return True
    if name.endswith(("_error", "_loss", "_deviance")):
        return False
    return None


@dataclass(frozen=True, slots=True)
class Outputs:
    """What a model answered on the evaluation rows: labels (or values), and for classifiers
    with ``predict_proba`` the probability matrix whose columns follow ``classes``."""

    labels: np.ndarray[Any, Any]
    proba: np.ndarray[Any, Any] | None = None
    classes: np.ndarray[Any, Any] | None = None


def metric_input(spec: MetricSpec, outputs: Outputs, positive: Any) -> np.ndarray[Any, Any]:
    """The array ``spec`` scores: labels, the probability matrix, or the positive column."""
    if spec.response == "label":
        return outputs.labels
    if outputs.proba is None or outputs.classes is None:
        raise InvalidParameter(
            f"Metric {spec.key!r} needs class probabilities; the model has no predict_proba"
        )
    if spec.response == "score" and len(outputs.classes) == 2:
        column = (
            int(np.flatnonzero(outputs.classes == positive)[0])
            if positive in outputs.classes
            else 1
        )
        return outputs.proba[:, column]
    return outputs.proba


def call_kwargs(
    spec: MetricSpec, classes: np.ndarray[Any, Any] | None, positive: Any
) -> dict[str, Any]:
    """The keyword arguments scikit-learn needs for this data: ``pos_label`` for binary labels,
    ``average="macro"`` for multiclass, ``labels`` and one-vs-rest for probability matrices."""
    kwargs = dict(spec.kwargs)
    multiclass = classes is not None and len(classes) > 2
    if spec.takes_positive:
        if multiclass and spec.key not in ("selection_rate", "false_positive_rate"):
            kwargs.setdefault("average", "macro")
        elif kwargs.get("average", "binary") == "binary":
            kwargs.setdefault("pos_label", positive)
    if spec.key == "log_loss" and classes is not None:
        kwargs.setdefault("labels", list(classes))
    if spec.key == "roc_auc" and multiclass:
        kwargs.setdefault("multi_class", "ovr")
        kwargs.setdefault("labels", list(classes))  # type: ignore[arg-type]
    if spec.key in ("brier", "average_precision") and not multiclass:
        kwargs.setdefault("pos_label", positive)
    return kwargs


def metric_value(
    spec: MetricSpec,
    y_true: np.ndarray[Any, Any],
    outputs: Outputs,
    positive: Any,
    classes: np.ndarray[Any, Any] | None,
) -> float:
    """The metric on all rows, computed by scikit-learn."""
    prediction = metric_input(spec, outputs, positive)
    return float(spec.function(y_true, prediction, **call_kwargs(spec, classes, positive)))
