"""The paired bootstrap, vectorised: every resample is a row of counts, every metric a matrix
product over those rows.

A resample of n rows is a vector of how often each row was drawn (multinomial counts, built with
one ``bincount`` per chunk of resamples). A metric that is a sum over rows (a confusion matrix,
a mean loss, R²'s sums) is then ``counts @ per_row`` for all resamples at once; ROC AUC uses the
weighted rank form over tie groups. Other metrics fall back to calling scikit-learn with
``sample_weight`` once per resample. Candidate and baseline see the same resamples, so the
difference of their metrics carries only the noise of the models, not of the draw.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse

from shipyard.errors import InvalidParameter
from shipyard.gates._metrics import MetricSpec, Outputs, call_kwargs, metric_input

__all__ = ["Interval", "WeightedMetric", "bootstrap", "interval", "weighted_metric"]

WeightedMetric = Callable[[np.ndarray[Any, Any]], np.ndarray[Any, Any]]
"""Counts (resamples x rows) -> the metric of each resample."""

_CHUNK_CELLS = 4_000_000  # counts per chunk: 32 MB of float64
_CONFUSION = {
    "accuracy", "balanced_accuracy", "f1", "precision", "recall", "true_positive_rate",
    "matthews_corrcoef", "selection_rate", "false_positive_rate",
}  # fmt: skip
_MEAN_LOSS = {"mean_squared_error", "mse", "mean_absolute_error", "mae"}
_Array = np.ndarray[Any, Any]


@dataclass(frozen=True, slots=True)
class Interval:
    low: float
    high: float
    confidence: float


def interval(samples: _Array, confidence: float) -> Interval:
    tail = (1.0 - confidence) / 2.0 * 100.0
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return Interval(float("nan"), float("nan"), confidence)
    low, high = np.percentile(finite, [tail, 100.0 - tail])
    return Interval(float(low), float(high), confidence)


def bootstrap(
    metrics: Sequence[WeightedMetric], rows: int, resamples: int, seed: int
) -> list[_Array]:
    """Each metric on the same ``resamples`` draws of ``rows`` rows with replacement."""
    rng = np.random.default_rng(seed)
    chunk = max(1, min(resamples, _CHUNK_CELLS // max(rows, 1)))
    parts: list[list[_Array]] = [[] for _ in metrics]
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        drawn = rng.integers(0, rows, size=(size, rows)) + (np.arange(size) * rows)[:, None]
        counts = np.bincount(drawn.ravel(), minlength=size * rows).reshape(size, rows)
        weights = counts.astype(np.float64)
        for part, metric in zip(parts, metrics, strict=True):
            part.append(metric(weights))
    return [np.concatenate(part) for part in parts]


def weighted_metric(
    spec: MetricSpec, y_true: _Array, outputs: Outputs, positive: Any, classes: _Array | None
) -> WeightedMetric:
    """``spec`` as a function of resample counts (vectorised where the metric allows)."""
    kwargs = call_kwargs(spec, classes, positive)
    prediction = metric_input(spec, outputs, positive)
    if spec.key in _CONFUSION and classes is not None:
        return _confusion_metric(spec.key, y_true, prediction, classes, positive, kwargs)
    if spec.key in _MEAN_LOSS and not spec.kwargs:
        error = np.asarray(y_true, dtype=float) - np.asarray(prediction, dtype=float)
        loss = error**2 if spec.key in ("mean_squared_error", "mse") else np.abs(error)
        return _weighted_mean(loss)
    if spec.key in ("root_mean_squared_error", "rmse") and not spec.kwargs:
        error = np.asarray(y_true, dtype=float) - np.asarray(prediction, dtype=float)
        squared = _weighted_mean(error**2)
        return lambda w: np.sqrt(squared(w))
    if spec.key == "r2" and not spec.kwargs:
        return _r2(np.asarray(y_true, dtype=float), np.asarray(prediction, dtype=float))
    if spec.key == "log_loss" and classes is not None and set(kwargs) <= {"labels"}:
        return _weighted_mean(_log_losses(y_true, prediction, classes))
    if spec.key == "brier" and prediction.ndim == 1 and set(kwargs) <= {"pos_label"}:
        return _weighted_mean((prediction - (y_true == positive)) ** 2)
    if spec.key == "roc_auc" and prediction.ndim == 1 and set(kwargs) <= {"pos_label"}:
        return _binary_auc(y_true == positive, prediction)
    return _looped(spec, y_true, prediction, kwargs)


def _weighted_mean(values: _Array) -> WeightedMetric:
    values = np.asarray(values, dtype=np.float64)
    return lambda w: (w @ values) / w.sum(axis=1)


def _r2(y: _Array, prediction: _Array) -> WeightedMetric:
    columns = np.column_stack([y, y * y, (y - prediction) ** 2])

    def r2(w: _Array) -> _Array:
        total = w.sum(axis=1)
        sums = w @ columns
        spread = sums[:, 1] - sums[:, 0] ** 2 / total
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(1.0 - sums[:, 2] / spread)

    return r2


def _log_losses(y_true: _Array, proba: _Array, classes: _Array) -> _Array:
    column = np.searchsorted(classes, y_true)
    p = proba / proba.sum(axis=1, keepdims=True)
    chosen = p[np.arange(len(y_true)), np.clip(column, 0, len(classes) - 1)]
    eps = np.finfo(p.dtype).eps
    return np.asarray(-np.log(np.clip(chosen, eps, 1 - eps)))


def _binary_auc(positive: _Array, score: _Array) -> WeightedMetric:
    """Weighted Mann-Whitney: the chance a positive outranks a negative, ties counting half.

    Rows are summed into their tie group (positives and negatives apart) by a sparse product, so
    the counts are never gathered into sorted order. Counts and their running sums are whole
    numbers, exact in float32 below 2**24, which halves the memory the running sum walks."""
    groups = np.unique(score, return_inverse=True)[1].ravel()
    rows = np.arange(len(score))
    shape = (int(groups.max()) + 1 if len(groups) else 0, len(score))
    is_pos = positive.astype(bool)
    from_pos = scipy.sparse.csr_matrix((is_pos.astype(np.float32), (groups, rows)), shape=shape)
    from_neg = scipy.sparse.csr_matrix(((~is_pos).astype(np.float32), (groups, rows)), shape=shape)

    def auc(w: _Array) -> _Array:
        columns = w.T.astype(np.float32, order="C")  # rows x resamples
        pos = from_pos @ columns  # tie groups x resamples
        neg = from_neg @ columns
        below = np.cumsum(neg, axis=0)
        below -= 0.5 * neg  # negatives strictly below, and half of the tied ones
        wins = (pos * below).sum(axis=0, dtype=np.float64)
        pairs = pos.sum(axis=0, dtype=np.float64) * neg.sum(axis=0, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(wins / pairs)

    return auc


def _confusion_metric(
    key: str,
    y_true: _Array,
    y_pred: _Array,
    classes: _Array,
    positive: Any,
    kwargs: dict[str, Any],
) -> WeightedMetric:
    known = np.union1d(classes, np.union1d(y_true, y_pred))
    k = len(known)
    cells = np.searchsorted(known, y_true) * k + np.searchsorted(known, y_pred)
    onehot = scipy.sparse.csr_matrix(
        (np.ones(len(cells)), (np.arange(len(cells)), cells)), shape=(len(cells), k * k)
    )
    pos = int(np.searchsorted(known, positive)) if positive in known else k - 1
    average = kwargs.get("average", "binary")

    def metric(w: _Array) -> _Array:
        confusion = np.asarray((onehot.T @ w.T).T).reshape(-1, k, k)
        return _from_confusion(key, confusion, pos, average)

    return metric


def _from_confusion(key: str, c: _Array, pos: int, average: str | None) -> _Array:
    total = c.sum(axis=(1, 2))
    tp = np.diagonal(c, axis1=1, axis2=2)
    actual = c.sum(axis=2)
    predicted = c.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        if key == "accuracy":
            return np.asarray(tp.sum(axis=1) / total)
        if key == "selection_rate":
            return np.asarray(predicted[:, pos] / total)
        if key == "false_positive_rate":
            negatives = total - actual[:, pos]
            return np.asarray(np.nan_to_num((predicted[:, pos] - tp[:, pos]) / negatives))
        if key == "matthews_corrcoef":
            correct = tp.sum(axis=1)
            cov = correct * total - (actual * predicted).sum(axis=1)
            scale = np.sqrt(
                (total**2 - (predicted**2).sum(axis=1)) * (total**2 - (actual**2).sum(axis=1))
            )
            return np.asarray(np.nan_to_num(cov / scale))
        recall = np.nan_to_num(tp / actual)
        if key == "balanced_accuracy":
            present = actual > 0
            return np.asarray((recall * present).sum(axis=1) / present.sum(axis=1))
        precision = np.nan_to_num(tp / predicted)
        f1 = np.nan_to_num(2 * tp / (actual + predicted))
        per_class = {"precision": precision, "f1": f1}.get(key, recall)
        return _averaged(key, per_class, tp, actual, predicted, pos, average)


def _averaged(
    key: str, per_class: _Array, tp: _Array, actual: _Array, predicted: _Array, pos: int,
    average: str | None,
) -> _Array:  # fmt: skip
    if average == "binary" or average is None:
        return np.asarray(per_class[:, pos])
    if average == "macro":
        return np.asarray(per_class.mean(axis=1))
    if average == "weighted":
        return np.asarray((per_class * actual).sum(axis=1) / actual.sum(axis=1))
    if average == "micro":
        hits, support, guessed = tp.sum(axis=1), actual.sum(axis=1), predicted.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            if key == "precision":
                return np.asarray(hits / guessed)
            if key == "f1":
                return np.asarray(2 * hits / (support + guessed))
            return np.asarray(hits / support)
    raise InvalidParameter(f"average={average!r} is not supported for {key!r}")


def _looped(
    spec: MetricSpec, y_true: _Array, prediction: _Array, kwargs: dict[str, Any]
) -> WeightedMetric:
    """Metrics without a closed weighted form: scikit-learn once per resample."""

    def metric(w: _Array) -> _Array:
        try:
            return np.array(
                [float(spec.function(y_true, prediction, sample_weight=row, **kwargs)) for row in w]
            )
        except TypeError as exc:
            raise InvalidParameter(
                f"Metric {spec.key!r} takes no sample_weight, so it cannot be bootstrapped: {exc}"
            ) from None

    return metric
