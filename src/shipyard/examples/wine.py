"""The quick-start example: classifiers trained on scikit-learn's bundled wine data set.

Each run logs its hyperparameters, per-epoch training curves (an ``SGDClassifier`` trained with
``partial_fit``), final test metrics, tags for the audit trail, the data set as an input,
artifacts (a confusion matrix, a per-class report and the learning curve) and the model (scaler
and classifier in one pipeline, with a reference profile of the training data). Every model is
registered as a version of ``wine-classifier``; the alias ``production`` points at the best test
F1 and ``staging`` at the runner-up, each move recorded with its reason in the audit trail.
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
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import shipyard

__all__ = ["EXPERIMENT", "REGISTERED_MODEL", "run_example"]

EXPERIMENT = "wine-quickstart"
REGISTERED_MODEL = "wine-classifier"
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
    return frame, x_train, x_test, y_train, y_test


def _artifacts(folder: Path, y_test: Any, pred: Any, curve: list[dict[str, float]]) -> None:
    labels = sorted(set(y_test))
    cm = confusion_matrix(y_test, pred, labels=labels)
    pd.DataFrame(cm, index=labels, columns=labels).to_csv(folder / "confusion_matrix.csv")
    report = classification_report(y_test, pred, output_dict=True)
    (folder / "classification_report.json").write_text(json.dumps(report, indent=2))
    pd.DataFrame(curve).to_csv(folder / "learning_curve.csv", index=False)


def _train_one(params: dict[str, Any], seed: int) -> tuple[str, float]:
    frame, raw_train, raw_test, y_train, y_test = _data(seed)
    scaler = StandardScaler().fit(raw_train)
    x_train, x_test = scaler.transform(raw_train), scaler.transform(raw_test)
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
        f1 = float(f1_score(y_test, pred, average="macro"))
        shipyard.log_metrics({"test_accuracy": accuracy_score(y_test, pred), "test_f1_macro": f1})
        with tempfile.TemporaryDirectory() as tmp:
            _artifacts(Path(tmp), y_test, pred, curve)
            shipyard.log_artifacts(tmp)
        pipeline = Pipeline([("scale", scaler), ("classify", model)])
        shipyard.sklearn.log_model(
            pipeline, "model", input_example=raw_test.head(3), reference_data=raw_train
        )
        return run.run_id, f1


def _register(client: shipyard.Client, trained: list[tuple[str, float]]) -> None:
    versions = [
        (client.register_model(f"runs:/{run_id}/model", REGISTERED_MODEL).version, f1)
        for run_id, f1 in trained
    ]
    ranked = sorted(versions, key=lambda v: -v[1])
    for rank, (alias, (version, f1)) in enumerate(
        zip(("production", "staging"), ranked[:2], strict=True)
    ):
        client.set_registered_model_alias(
            REGISTERED_MODEL, alias, version, reason=f"rank {rank + 1} by test F1 ({f1:.3f})"
        )


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
    trained = [_train_one(params, seed) for params in GRID]
    _register(client, trained)
    return [run_id for run_id, _ in trained]
