"""The quick-start example: classifiers trained on scikit-learn's bundled wine data set.

Each run logs its hyperparameters, per-epoch training curves (an ``SGDClassifier`` trained with
``partial_fit``), final test metrics, tags for the audit trail, the data set as an input, and
artifacts (a confusion matrix, a per-class report and the learning curve).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.datasets import load_wine
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, f1_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import shipyard

__all__ = ["EXPERIMENT", "run_example"]

EXPERIMENT = "wine-quickstart"
GRID = (
    {"loss": "log_loss", "alpha": 1e-4, "epochs": 30},
    {"loss": "log_loss", "alpha": 1e-2, "epochs": 30},
    {"loss": "hinge", "alpha": 1e-3, "epochs": 30},
    {"loss": "modified_huber", "alpha": 1e-3, "epochs": 30},
)


def _data(seed: int) -> tuple[Any, ...]:
    data = load_wine(as_frame=True)
    frame: pd.DataFrame = data.frame
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.3, random_state=seed, stratify=data.target
    )
    scaler = StandardScaler().fit(x_train)
    return frame, scaler.transform(x_train), scaler.transform(x_test), y_train, y_test


def _artifacts(folder: Path, y_test: Any, pred: Any, curve: list[dict[str, float]]) -> None:
    labels = sorted(set(y_test))
    cm = confusion_matrix(y_test, pred, labels=labels)
    pd.DataFrame(cm, index=labels, columns=labels).to_csv(folder / "confusion_matrix.csv")
    report = classification_report(y_test, pred, output_dict=True)
    (folder / "classification_report.json").write_text(json.dumps(report, indent=2))
    pd.DataFrame(curve).to_csv(folder / "learning_curve.csv", index=False)


def _train_one(params: dict[str, Any], seed: int) -> str:
    frame, x_train, x_test, y_train, y_test = _data(seed)
    classes = np.unique(y_train)
    model = SGDClassifier(loss=params["loss"], alpha=params["alpha"], random_state=seed)
    with shipyard.start_run(run_name=f"sgd-{params['loss']}-{params['alpha']:g}") as run:
        shipyard.log_params({**params, "model": "SGDClassifier", "seed": seed})
        shipyard.set_tags({"owner": "quickstart", "data_version": "sklearn-wine-1"})
        shipyard.log_input(frame, name="wine", source="sklearn.datasets.load_wine", context="train")
        curve = []
        for epoch in range(params["epochs"]):
            model.partial_fit(x_train, y_train, classes=classes)
            point = {
                "train_accuracy": accuracy_score(y_train, model.predict(x_train)),
                "val_accuracy": accuracy_score(y_test, model.predict(x_test)),
            }
            shipyard.log_metrics(point, step=epoch)
            curve.append({"epoch": epoch, **point})
        pred = model.predict(x_test)
        shipyard.log_metrics(
            {"test_accuracy": accuracy_score(y_test, pred),
             "test_f1_macro": f1_score(y_test, pred, average="macro")}
        )  # fmt: skip
        with tempfile.TemporaryDirectory() as tmp:
            _artifacts(Path(tmp), y_test, pred, curve)
            shipyard.log_artifacts(tmp)
        return run.run_id


def run_example(tracking_uri: str, seed: int = 7) -> list[str]:
    """Log the example runs; returns their ids (nothing is logged twice on a second call)."""
    shipyard.set_tracking_uri(tracking_uri)
    client = shipyard.Client(tracking_uri)
    existing = client.get_experiment_by_name(EXPERIMENT)
    if existing is not None:
        runs = client.search_runs([existing.experiment_id], max_results=100).items
        if runs:
            return [r.info.run_id for r in runs]
    shipyard.set_experiment(EXPERIMENT, required_tags=["owner", "data_version"])
    return [_train_one(params, seed) for params in GRID]
