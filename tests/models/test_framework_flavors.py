"""What the framework flavors share beyond the contract: a missing framework names its extra, and
names the file supplies (model classes) cannot reach outside the framework."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest
import yaml
from _flavor_cases import make_case

import shipyard.pyfunc
from shipyard.errors import InvalidModel, MissingDependency

# (public module, flavor module, framework modules to hide, extra)
_FLAVORS = [
    ("shipyard.xgboost", "shipyard.models.flavors._xgboost", ("xgboost",), "xgboost"),
    ("shipyard.lightgbm", "shipyard.models.flavors._lightgbm", ("lightgbm",), "lightgbm"),
    ("shipyard.pytorch", "shipyard.models.flavors._pytorch", ("torch",), "pytorch"),
    ("shipyard.onnx", "shipyard.models.flavors._onnx", ("onnxruntime",), "onnx"),
]


@pytest.mark.parametrize(("public", "flavor", "hidden", "extra"), _FLAVORS, ids=lambda v: v)
def test_a_missing_framework_names_the_extra_to_install(
    public: str, flavor: str, hidden: tuple[str, ...], extra: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (public, flavor):
        monkeypatch.delitem(sys.modules, name, raising=False)
    for name in hidden:
        monkeypatch.setitem(sys.modules, name, None)  # import fails as if not installed
    with pytest.raises(MissingDependency, match=rf"pip install 'shipyard-ml\[{extra}\]'"):
        importlib.import_module(public)


def test_a_missing_framework_is_named_when_loading_through_pyfunc(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_case("xgboost", tmp_path).save(tmp_path / "m")
    monkeypatch.delitem(sys.modules, "shipyard.models.flavors._xgboost", raising=False)
    monkeypatch.setitem(sys.modules, "xgboost", None)
    with pytest.raises(MissingDependency, match=r"shipyard-ml\[xgboost\]"):
        shipyard.pyfunc.load_model(tmp_path / "m")


@pytest.mark.parametrize("model_class", ["os.system", "xgboost.DMatrix", "builtins.dict"])
def test_xgboost_refuses_model_classes_outside_xgboost(model_class: str, tmp_path: Path) -> None:
    make_case("xgboost", tmp_path).save(tmp_path / "m")
    manifest = tmp_path / "m" / "MLmodel"
    raw = yaml.safe_load(manifest.read_text())
    raw["flavors"]["xgboost"]["model_class"] = model_class
    manifest.write_text(yaml.safe_dump(raw))
    with pytest.raises(InvalidModel, match="not an XGBoost model"):
        shipyard.pyfunc.load_model(tmp_path / "m")
