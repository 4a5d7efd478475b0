"""Fixtures of the gate tests: models and data built once per session (see ``_gate_models``)."""

from __future__ import annotations

import pandas as pd
import pytest
from _gate_models import Bundle, build_bundle, eval_frame


@pytest.fixture(scope="session")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    return build_bundle(tmp_path_factory.mktemp("gates"))


@pytest.fixture
def eval_data(bundle: Bundle) -> pd.DataFrame:
    return eval_frame(bundle)
