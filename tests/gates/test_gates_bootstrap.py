"""The vectorised bootstrap computes what scikit-learn computes with the same row weights."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn import metrics

from shipyard.gates._bootstrap import bootstrap, interval, weighted_metric
from shipyard.gates._metrics import Outputs, call_kwargs, metric_input, resolve_metric

RNG = np.random.default_rng(7)
N = 400


def _classification(classes: int) -> tuple[np.ndarray[Any, Any], Outputs]:
    y = RNG.integers(0, classes, N)
    logits = RNG.normal(size=(N, classes)) + 2.0 * np.eye(classes)[y]
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = np.argmax(proba, axis=1)
    return y, Outputs(labels, proba, np.arange(classes))


def _weights() -> np.ndarray[Any, Any]:
    return RNG.integers(0, 4, size=(3, N)).astype(float)


@pytest.mark.parametrize(
    ("name", "params", "classes"),
    [
        ("accuracy", {}, 2), ("f1", {}, 2), ("precision", {}, 2), ("recall", {}, 2),
        ("balanced_accuracy", {}, 3), ("matthews_corrcoef", {}, 3), ("f1", {}, 3),
        ("f1", {"average": "weighted"}, 3), ("precision", {"average": "micro"}, 3),
        ("roc_auc", {}, 2), ("log_loss", {}, 3), ("brier", {}, 2), ("false_positive_rate", {}, 2),
        ("selection_rate", {}, 2), ("average_precision", {}, 2),
    ],
)  # fmt: skip
def test_classification_metrics_match_sklearn_with_weights(
    name: str, params: dict[str, Any], classes: int
) -> None:
    y, outputs = _classification(classes)
    spec = resolve_metric(name, params)
    labels = np.arange(classes)
    weighted = weighted_metric(spec, y, outputs, 1, labels)
    prediction = metric_input(spec, outputs, 1)
    kwargs = call_kwargs(spec, labels, 1)
    weights = _weights()
    expected = [spec.function(y, prediction, sample_weight=w, **kwargs) for w in weights]
    np.testing.assert_allclose(weighted(weights), expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", ["mse", "rmse", "mae", "r2", "median_absolute_error"])
def test_regression_metrics_match_sklearn_with_weights(name: str) -> None:
    y = RNG.normal(size=N)
    outputs = Outputs(y + RNG.normal(scale=0.5, size=N))
    spec = resolve_metric(name)
    weighted = weighted_metric(spec, y, outputs, 1, None)
    weights = _weights()
    expected = [spec.function(y, outputs.labels, sample_weight=w) for w in weights]
    np.testing.assert_allclose(weighted(weights), expected, rtol=1e-9)


def test_resamples_are_multinomial_counts_and_reproducible() -> None:
    seen: list[np.ndarray[Any, Any]] = []

    def capture(w: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        seen.append(w)
        return w.sum(axis=1)

    (totals,) = bootstrap([capture], rows=50, resamples=300, seed=3)
    assert totals.shape == (300,) and np.all(totals == 50)  # each resample draws n rows
    first = np.concatenate(seen)
    seen.clear()
    bootstrap([capture], rows=50, resamples=300, seed=3)
    np.testing.assert_array_equal(np.concatenate(seen), first)
    assert abs(first.mean() - 1.0) < 0.02 and abs(first.var() - (1 - 1 / 50)) < 0.05


def test_a_paired_interval_is_narrower_than_the_noise_of_each_metric() -> None:
    y, good = _classification(2)
    flipped = good.labels.copy()
    flipped[:4] = 1 - flipped[:4]  # the other model differs on four rows only
    spec = resolve_metric("accuracy")
    classes = np.arange(2)
    one = weighted_metric(spec, y, good, 1, classes)
    other = weighted_metric(spec, y, Outputs(flipped), 1, classes)
    a, b = bootstrap([one, other], N, 2000, 0)
    alone, paired = interval(a, 0.95), interval(a - b, 0.95)
    assert paired.high - paired.low < (alone.high - alone.low) / 2
    assert alone.low < metrics.accuracy_score(y, good.labels) < alone.high
