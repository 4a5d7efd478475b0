"""Real scikit-learn models on the bundled breast-cancer data, saved as package folders, and a
small OSV database with one advisory: what the gate tests run on."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

import shipyard.sklearn

DROPPED = "worst area"


@dataclass(frozen=True)
class Bundle:
    train: pd.DataFrame  # features + "target" + "group"
    eval: pd.DataFrame
    features: list[str]
    models: dict[str, Path]
    osv: Path


def _logistic(c: float = 1.0) -> Any:
    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=1000))


def _advisory() -> dict[str, Any]:
    """The shape of a GitHub advisory in OSV's PyPI dump (urllib3's CVE-2021-33503)."""
    return {
        "schema_version": "1.4.0",
        "id": "GHSA-q2q7-5pp4-w6pg",
        "aliases": ["CVE-2021-33503"],
        "summary": "Catastrophic backtracking in URL authority parser when passed URL "
        "containing many @ characters",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "urllib3"},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "1.25.4"}, {"fixed": "1.26.5"}]}
                ],
            }
        ],
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"}],
        "database_specific": {"severity": "HIGH", "github_reviewed": True},
    }


def build_bundle(root: Path) -> Bundle:
    x, y = load_breast_cancer(return_X_y=True, as_frame=True)
    data = x.assign(target=y, group=np.where(np.arange(len(y)) % 2 == 0, "a", "b"))
    train, test = train_test_split(data, test_size=0.5, random_state=0, stratify=y)
    features = [str(c) for c in x.columns]
    x_train, y_train = train[features], train.target
    kept = [f for f in features if f != DROPPED]
    fit: dict[str, Callable[[], Any]] = {
        # a weak baseline and a clearly better candidate
        "stump": lambda: DecisionTreeClassifier(max_depth=1, random_state=0).fit(x_train, y_train),
        "logistic": lambda: _logistic(1.0).fit(x_train, y_train),
        # F1 2.4 points above the stump's, but within the noise of 285 rows
        "tree2": lambda: DecisionTreeClassifier(max_depth=2, random_state=0).fit(x_train, y_train),
        "logistic_c01": lambda: _logistic(0.1).fit(x_train, y_train),
        # handles missing values natively
        "boosting": lambda: HistGradientBoostingClassifier(max_iter=50).fit(x_train, y_train),
        "dropped": lambda: _logistic(1.0).fit(train[kept], y_train),
        "biased": lambda: _biased(train, features),
    }
    models: dict[str, Path] = {}
    examples = train.assign(is_b=(train.group == "b").astype(float))
    for name, make in fit.items():
        model = make()
        columns = list(getattr(model, "feature_names_in_", features))
        models[name] = root / name
        shipyard.sklearn.save_model(model, models[name], input_example=examples[columns].head(3))
    models["vulnerable"] = root / "vulnerable"
    shipyard.sklearn.save_model(
        _logistic(1.0).fit(train[features], train.target), models["vulnerable"],
        input_example=train[features].head(3), extra_pip_requirements=("urllib3==1.26.4",),
    )  # fmt: skip
    models["patched"] = root / "patched"
    shipyard.sklearn.save_model(
        _logistic(1.0).fit(train[features], train.target), models["patched"],
        input_example=train[features].head(3), extra_pip_requirements=("urllib3==1.26.5",),
    )  # fmt: skip
    osv = root / "osv"
    osv.mkdir()
    (osv / "GHSA-q2q7-5pp4-w6pg.json").write_text(json.dumps(_advisory()))
    return Bundle(train, test, features, models, osv)


def _biased(train: pd.DataFrame, features: list[str]) -> Any:
    """Trained on labels where every row of group b was marked 0: it learns to deny group b."""
    columns = [*features, "is_b"]
    frame = train.assign(is_b=(train.group == "b").astype(float))
    labels = np.where(frame.is_b == 1.0, 0, frame.target)
    return _logistic(1.0).fit(frame[columns], labels)


def eval_frame(bundle: Bundle) -> pd.DataFrame:
    return bundle.eval.assign(is_b=(bundle.eval.group == "b").astype(float))
