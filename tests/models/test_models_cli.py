"""``shipyard models describe|download`` through Typer's CliRunner."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from _flavor_cases import wine_pipeline
from typer.testing import CliRunner

import shipyard
import shipyard.pyfunc
import shipyard.sklearn
from shipyard.cli import _common, app
from shipyard.models import infer_signature

runner = CliRunner()


@pytest.fixture(autouse=True)
def wide_console() -> Iterator[None]:
    before = _common.console.width
    _common.console.width = 300
    yield
    _common.console.width = before


@pytest.fixture
def logged(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A wine pipeline logged with a reference profile to a local tracking folder."""
    folder = str(tmp_path / "tracking")
    shipyard.set_tracking_uri(folder)
    pipeline, frame = wine_pipeline()
    with shipyard.start_run():
        info = shipyard.sklearn.log_model(
            pipeline, "wine", input_example=frame.head(3), reference_data=frame
        )
    yield info.model_uri, folder
    shipyard.set_tracking_uri(None)


def test_describe_shows_flavors_signature_size_requirements_and_origin(
    logged: tuple[str, str],
) -> None:
    uri, folder = logged
    result = runner.invoke(app, ["models", "describe", uri, "-t", folder], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = result.output
    run_id = uri.split("/")[1]
    assert f"model {uri}" in out and run_id in out
    assert "sklearn" in out and "serialization_format=skops" in out and "mlflow.sklearn" in out
    assert "alcohol" in out and "double" in out and "strength" in out and "string" in out
    assert "magnesium" in out and "long" in out
    assert "KiB" in out and "shipyard 1" in out and "178 rows" in out
    assert "scikit-learn==" in out and "skops==" in out and "pandas==" in out


def test_describe_shows_params(tmp_path: Path) -> None:
    class Echo(shipyard.pyfunc.PythonModel):
        def predict(self, context: object, model_input: object, params: object = None) -> object:
            return model_input

    signature = infer_signature(np.zeros((1, 2)), params={"threshold": 0.5})
    shipyard.pyfunc.save_model(tmp_path / "m", python_model=Echo(), signature=signature)
    result = runner.invoke(app, ["models", "describe", str(tmp_path / "m")])
    assert result.exit_code == 0, result.output
    assert "threshold" in result.output and "0.5" in result.output
    assert "tensor float64 (-1, 2)" in result.output


def test_download_copies_the_package(logged: tuple[str, str], tmp_path: Path) -> None:
    uri, folder = logged
    target = tmp_path / "out"
    result = runner.invoke(app, ["models", "download", uri, "-o", str(target), "-t", folder])
    assert result.exit_code == 0, result.output
    assert {"MLmodel", "model.skops", "reference_profile.json"} <= {
        p.name for p in target.iterdir()
    }
    loaded = shipyard.pyfunc.load_model(target)
    assert loaded.metadata.run_id == uri.split("/")[1]


def test_errors_are_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["models", "describe", str(tmp_path / "absent")])
    assert result.exit_code == 1
    assert "INVALID_PARAMETER_VALUE" in result.output and "no such folder" in result.output
    assert "Traceback" not in result.output
    # A registry of its own: the default is ./shipyard-data, which holds whatever ran there.
    registry = f"sqlite:///{tmp_path / 'registry.db'}"
    result = runner.invoke(app, ["models", "describe", "models:/churn@production", "-t", registry])
    assert result.exit_code == 1 and "RESOURCE_DOES_NOT_EXIST" in result.output
    assert "churn" in result.output and "Traceback" not in result.output
