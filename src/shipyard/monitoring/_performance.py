"""Realized performance: metrics on the logged predictions that have a label.

The task is read from the data unless given: labels that are non-integer numbers make a
regression (RMSE, MAE, R2), anything else a classification (accuracy, precision, recall, F1 and,
with a ``out.proba.<class>`` column for a binary task, ROC AUC).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn import metrics

__all__ = ["Task", "realized_metrics"]

Task = Literal["auto", "classification", "regression"]

LOWER_IS_BETTER = frozenset({"rmse", "mae"})


def realized_metrics(
    joined: pd.DataFrame,
    task: Task = "auto",
    positive_label: Any = None,
    baseline: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """Metrics of ``joined`` (log rows with ``label``), and their change against ``baseline``."""
    if "out.prediction" not in joined:
        return {"labelled_rows": 0, "metrics": {}}
    labelled = joined[joined["label"].notna() & joined["out.prediction"].notna()]
    result: dict[str, Any] = {"labelled_rows": len(labelled), "metrics": {}}
    if labelled.empty:
        return result
    y_true, y_pred = _aligned(labelled["label"], labelled["out.prediction"])
    kind = task if task != "auto" else _task(y_true)
    result["task"] = kind
    values = _regression(y_true, y_pred) if kind == "regression" else {}
    if kind == "classification":
        values = _classification(labelled, y_true, y_pred, positive_label)
    result["metrics"] = values
    if baseline:
        result["baseline"] = {k: float(v) for k, v in baseline.items() if k in values}
        result["change"] = {
            k: values[k] - float(v) for k, v in baseline.items() if values.get(k) is not None
        }
    return result


def _aligned(labels: pd.Series, predictions: pd.Series) -> tuple[np.ndarray[Any, Any], ...]:
    a = pd.to_numeric(labels, errors="coerce")
    b = pd.to_numeric(predictions, errors="coerce")
    if a.notna().all() and b.notna().all():
        return a.to_numpy(dtype=np.float64), b.to_numpy(dtype=np.float64)
    return labels.astype(str).to_numpy(), predictions.astype(str).to_numpy()


def _task(y_true: np.ndarray[Any, Any]) -> str:
    if y_true.dtype.kind == "f" and not np.all(np.mod(y_true, 1) == 0):
        return "regression"
    return "classification"


def _regression(y_true: np.ndarray[Any, Any], y_pred: np.ndarray[Any, Any]) -> dict[str, Any]:
    return {
        "rmse": float(np.sqrt(metrics.mean_squared_error(y_true, y_pred))),
        "mae": float(metrics.mean_absolute_error(y_true, y_pred)),
        "r2": float(metrics.r2_score(y_true, y_pred)) if len(y_true) > 1 else None,
    }


def _classification(
    labelled: pd.DataFrame,
    y_true: np.ndarray[Any, Any],
    y_pred: np.ndarray[Any, Any],
    positive: Any,
) -> dict[str, Any]:
    classes = np.unique(np.concatenate([y_true, y_pred]))
    binary = len(classes) <= 2
    if binary and positive is None:
        positive = classes[-1]
    if positive is not None and y_true.dtype.kind == "f":
        positive = float(positive)
    elif positive is not None:
        positive = str(positive)
    averaging: dict[str, Any] = (
        {"average": "binary", "pos_label": positive} if binary else {"average": "macro"}
    )
    values: dict[str, Any] = {
        "accuracy": float(metrics.accuracy_score(y_true, y_pred)),
        "precision": float(metrics.precision_score(y_true, y_pred, zero_division=0, **averaging)),
        "recall": float(metrics.recall_score(y_true, y_pred, zero_division=0, **averaging)),
        "f1": float(metrics.f1_score(y_true, y_pred, zero_division=0, **averaging)),
        "roc_auc": None,
    }
    if binary and len(np.unique(y_true)) == 2:
        scores = _positive_scores(labelled, positive)
        if scores is not None:
            values["roc_auc"] = float(metrics.roc_auc_score(y_true == positive, scores))
    return values


def _positive_scores(labelled: pd.DataFrame, positive: Any) -> np.ndarray[Any, Any] | None:
    names = [f"out.proba.{positive}"]
    if isinstance(positive, float) and positive.is_integer():
        names.append(f"out.proba.{int(positive)}")
    for name in names:
        if name in labelled:
            return labelled[name].to_numpy(dtype=np.float64)
    return None
