"""Fixtures: a bundled scikit-learn data set and a folder for the inference log."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer


@pytest.fixture(scope="session")
def cancer() -> pd.DataFrame:
    data = load_breast_cancer(as_frame=True)
    frame: pd.DataFrame = data.frame
    return frame


@pytest.fixture
def log_root(tmp_path: Path) -> Path:
    return tmp_path / "inference-log"
