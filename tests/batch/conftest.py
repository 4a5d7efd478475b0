"""Fixtures of the batch tests: a saved classifier over 6 numeric features and its input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

import shipyard.sklearn


@pytest.fixture(scope="session")
def rows() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(rng.normal(size=(20_000, 6)), columns=[f"f{i}" for i in range(6)])
    frame.insert(0, "id", np.arange(len(frame), dtype=np.int64))
    return frame


@pytest.fixture(scope="session")
def model(tmp_path_factory: pytest.TempPathFactory, rows: pd.DataFrame) -> Path:
    features = rows.drop(columns="id")
    labels = (features["f0"] + features["f1"] > 0).astype(int)
    fitted = HistGradientBoostingClassifier(max_iter=20).fit(features, labels)
    folder = tmp_path_factory.mktemp("batch") / "model"
    shipyard.sklearn.save_model(fitted, folder, input_example=features.head(2))
    return folder
