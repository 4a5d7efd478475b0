"""``shipyard.register_model``: a logged model becomes a registered version that loads by URI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier

import shipyard


@pytest.fixture(autouse=True)
def _local(tmp_path: Path) -> None:
    shipyard.set_tracking_uri(str(tmp_path / "data"))
    yield
    shipyard.set_tracking_uri(None)


def test_register_a_run_model_then_load_it_by_version_and_alias() -> None:
    features, labels = load_iris(return_X_y=True)
    model = DecisionTreeClassifier(random_state=0).fit(features, labels)
    with shipyard.start_run() as run:
        shipyard.sklearn.log_model(model, "model", input_example=features[:2])
    first = shipyard.register_model(f"runs:/{run.info.run_id}/model", "iris", reason="first")
    second = shipyard.register_model(f"runs:/{run.info.run_id}/model", "iris")
    assert (first.version, second.version, first.run_id) == ("1", "2", run.info.run_id)
    client = shipyard.Client(shipyard.get_tracking_uri())
    client.set_registered_model_alias("iris", "champion", "2", reason="same, newer")
    for uri in ("models:/iris/1", "models:/iris@champion"):
        loaded = shipyard.pyfunc.load_model(uri)
        np.testing.assert_array_equal(loaded.predict(features), model.predict(features))
    creation = client.audit_events("iris")[1]
    assert (creation.action, creation.reason) == ("version.create", "first")
