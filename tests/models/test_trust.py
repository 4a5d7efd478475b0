"""Deny-by-default loading: formats that run code need trusted=True or SHIPYARD_TRUST_PICKLE."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import skops.io
import yaml
from _flavor_cases import iris_estimator
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_selection import SelectKBest, f_classif
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

import shipyard.pyfunc
import shipyard.sklearn
from shipyard.errors import UntrustedModel
from shipyard.settings import Settings


class Doubler(TransformerMixin, BaseEstimator):  # a custom type: not on the skops allowlist
    def fit(self, features: Any, target: Any = None) -> Doubler:
        return self

    def transform(self, features: Any) -> Any:
        return np.asarray(features) * 2


def test_cloudpickle_sklearn_needs_trust(tmp_path: Path) -> None:
    estimator, features = iris_estimator()
    shipyard.sklearn.save_model(estimator, tmp_path / "m", serialization_format="cloudpickle")
    with pytest.raises(UntrustedModel) as caught:
        shipyard.pyfunc.load_model(tmp_path / "m")
    message = str(caught.value)
    assert "cloudpickle" in message and "arbitrary code" in message
    assert "trusted=True" in message and "SHIPYARD_TRUST_PICKLE=true" in message
    with pytest.raises(UntrustedModel):
        shipyard.sklearn.load_model(tmp_path / "m")
    trusted = shipyard.pyfunc.load_model(tmp_path / "m", trusted=True)
    np.testing.assert_array_equal(trusted.predict(features), estimator.predict(features))


def test_the_setting_stands_in_for_trusted(tmp_path: Path) -> None:
    estimator, _ = iris_estimator()
    shipyard.sklearn.save_model(estimator, tmp_path / "m", serialization_format="cloudpickle")
    settings = Settings.from_env({"SHIPYARD_TRUST_PICKLE": "true"})
    assert settings.trust_pickle
    shipyard.pyfunc.load_model(tmp_path / "m", settings=settings)
    assert not Settings.from_env({}).trust_pickle


def test_a_pickle_payload_does_not_run_without_trust(tmp_path: Path) -> None:
    """A hostile model.pkl (CVE-2024-37052 style) is refused before a byte is unpickled."""
    estimator, _ = iris_estimator()
    folder = tmp_path / "m"
    shipyard.sklearn.save_model(estimator, folder, serialization_format="cloudpickle")
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self) -> tuple[Any, ...]:
            return (Path.touch, (marker,))

    (folder / "model.pkl").write_bytes(pickle.dumps(Payload()))
    with pytest.raises(UntrustedModel):
        shipyard.pyfunc.load_model(folder)
    assert not marker.exists()


def test_skops_accepts_sklearn_numpy_scipy_types_without_trust(tmp_path: Path) -> None:
    estimator, features = iris_estimator()
    forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(
        features, estimator.predict(features)
    )
    pipeline = make_pipeline(FunctionTransformer(np.log1p), SelectKBest(f_classif, k=2), forest)
    pipeline.fit(features, estimator.predict(features))
    untrusted_by_skops = skops.io.get_untrusted_types(data=skops.io.dumps(pipeline))
    assert "sklearn.tree._tree.Tree" in untrusted_by_skops  # skops alone would refuse it
    shipyard.sklearn.save_model(pipeline, tmp_path / "m")
    loaded = shipyard.pyfunc.load_model(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict(features), pipeline.predict(features))


@pytest.mark.filterwarnings("ignore:The model uses modules")  # Doubler lives in this test file
def test_skops_refuses_custom_types_unless_trusted(tmp_path: Path) -> None:
    estimator, features = iris_estimator()
    pipeline = make_pipeline(Doubler(), estimator).fit(features, estimator.predict(features))
    with pytest.warns(UserWarning, match="will need trusted=True"):
        shipyard.sklearn.save_model(pipeline, tmp_path / "m")
    with pytest.raises(UntrustedModel, match=r"test_trust\.Doubler"):
        shipyard.pyfunc.load_model(tmp_path / "m")
    loaded = shipyard.pyfunc.load_model(tmp_path / "m", trusted=True)
    np.testing.assert_array_equal(loaded.predict(features), pipeline.predict(features))


@pytest.mark.filterwarnings("ignore:The model uses modules")
def test_skops_trusted_types_in_the_manifest_are_ignored(tmp_path: Path) -> None:
    """The MLmodel is part of the file being checked: it cannot vouch for itself."""
    estimator, features = iris_estimator()
    pipeline = make_pipeline(Doubler(), estimator).fit(features, estimator.predict(features))
    with pytest.warns(UserWarning):
        shipyard.sklearn.save_model(pipeline, tmp_path / "m")
    raw = yaml.safe_load((tmp_path / "m" / "MLmodel").read_text())
    assert "test_trust.Doubler" in raw["flavors"]["sklearn"]["skops_trusted_types"]
    with pytest.raises(UntrustedModel):
        shipyard.sklearn.load_model(tmp_path / "m")


@pytest.mark.parametrize(
    "name",
    [
        "numpy.lib.npyio.load",
        "sklearn.datasets._openml.fetch_openml",
        "builtins.eval",
        "os.system",
        "numpy.save",
        "scipy.io.loadmat",
        "sklearn.utils._testing.assert_allclose",
        "numpy..bad",
    ],
)
def test_allowlist_excludes_functions_and_file_modules(name: str) -> None:
    from shipyard.models._trust import _allowed

    assert not _allowed(name)


@pytest.mark.parametrize(
    "name",
    [
        "sklearn.tree._tree.Tree",
        "numpy.float64",
        "numpy.log1p",
        "scipy.sparse._csr.csr_matrix",
        "sklearn.feature_selection._univariate_selection.f_classif",
    ],
)
def test_allowlist_includes_library_classes_ufuncs_and_score_functions(name: str) -> None:
    from shipyard.models._trust import _allowed

    assert _allowed(name)
