"""Requirements come from what the model really uses, pinned to the installed versions."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Any

import yaml
from _flavor_cases import iris_estimator
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

import shipyard.pyfunc
import shipyard.sklearn
from shipyard.models._requirements import imported_modules, pin_requirements


def test_a_plain_estimator_needs_sklearn_and_numpy_only() -> None:
    estimator, _ = iris_estimator()
    assert imported_modules(estimator) == {"sklearn", "numpy"}


def test_functions_inside_a_pipeline_are_found() -> None:
    estimator, _ = iris_estimator()
    pipeline = make_pipeline(FunctionTransformer(yaml.safe_dump), estimator)
    assert "yaml" in imported_modules(pipeline)


def test_a_custom_models_code_is_walked_for_the_libraries_it_calls() -> None:
    class UsesYaml(shipyard.pyfunc.PythonModel):
        def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
            return yaml.safe_dump(model_input)

    found = imported_modules(UsesYaml())
    assert {"yaml", "shipyard"} <= found
    assert "json" not in found  # the standard library is never a requirement


def test_pins_use_distribution_names_and_installed_versions() -> None:
    pinned, unknown = pin_requirements(["sklearn", "yaml", "numpy", "json", "not_a_module_xyz"])
    assert pinned == [
        f"numpy=={importlib.metadata.version('numpy')}",
        f"PyYAML=={importlib.metadata.version('PyYAML')}",
        f"scikit-learn=={importlib.metadata.version('scikit-learn')}",
    ]
    assert unknown == ["not_a_module_xyz"]


def test_sklearn_package_lists_exactly_what_it_needs(tmp_path: Path) -> None:
    estimator, features = iris_estimator()
    shipyard.sklearn.save_model(estimator, tmp_path / "m", input_example=features[:2])
    names = [
        line.split("==")[0] for line in (tmp_path / "m" / "requirements.txt").read_text().split()
    ]
    assert names == ["numpy", "scikit-learn", "skops"]  # no pandas: the input is an array


def test_extra_requirements_are_appended(tmp_path: Path) -> None:
    estimator, _ = iris_estimator()
    shipyard.sklearn.save_model(estimator, tmp_path / "m", extra_pip_requirements=("gunicorn>=21",))
    assert (tmp_path / "m" / "requirements.txt").read_text().splitlines()[-1] == "gunicorn>=21"


def test_python_env_pins_the_build_tools(tmp_path: Path) -> None:
    estimator, _ = iris_estimator()
    shipyard.sklearn.save_model(estimator, tmp_path / "m")
    env = yaml.safe_load((tmp_path / "m" / "python_env.yaml").read_text())
    assert env["build_dependencies"][0] == f"pip=={importlib.metadata.version('pip')}"
    assert env["python"].count(".") == 2
    assert env["dependencies"] == ["-r requirements.txt"]
