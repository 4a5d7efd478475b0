"""Fixtures of the serving tests: a saved iris classifier and its rows."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from _serving_models import iris_frame, save_iris


@pytest.fixture(scope="session")
def iris_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_iris(tmp_path_factory.mktemp("models") / "iris")


@pytest.fixture(scope="session")
def iris_rows() -> pd.DataFrame:
    return iris_frame()[0]
