"""The flavor contract: every flavor passes the same checks (see ``conftest.FlavorCase``)."""

from __future__ import annotations

import importlib.metadata
import json
import re
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from _flavor_cases import FlavorCase, predict_in_fresh_process

import shipyard
import shipyard.pyfunc
from shipyard.errors import InvalidModel, SignatureMismatch, UntrustedModel
from shipyard.models import FORMAT_VERSION, read_manifest


def test_fresh_process_predicts_like_the_in_memory_model(
    flavor: FlavorCase, tmp_path: Path
) -> None:
    flavor.save(tmp_path / "model")
    got = predict_in_fresh_process(
        str(tmp_path / "model"), flavor.data, flavor.needs_trust, tmp_path / "scratch"
    )
    np.testing.assert_array_equal(got, flavor.expected)


def test_in_process_load_predicts_like_the_in_memory_model(
    flavor: FlavorCase, tmp_path: Path
) -> None:
    flavor.save(tmp_path / "model")
    loaded = shipyard.pyfunc.load_model(tmp_path / "model", trusted=flavor.needs_trust)
    np.testing.assert_array_equal(np.asarray(loaded.predict(flavor.data)), flavor.expected)


def test_package_layout_and_manifest(flavor: FlavorCase, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    manifest = flavor.save(folder)
    names = {p.name for p in folder.iterdir()}
    assert {
        "MLmodel", "requirements.txt", "python_env.yaml", "conda.yaml", "input_example.json",
        "serving_input_example.json", flavor.model_file.split("/")[0],
    } <= names  # fmt: skip
    raw = yaml.safe_load((folder / "MLmodel").read_text())
    assert raw["shipyard_format_version"] == FORMAT_VERSION
    assert uuid.UUID(raw["model_uuid"]).hex == raw["model_uuid"] == manifest.model_uuid
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", raw["utc_time_created"])
    on_disk = sum(
        p.stat().st_size for p in folder.rglob("*") if p.is_file() and p.name != "MLmodel"
    )
    assert raw["model_size_bytes"] == on_disk
    pyfunc = raw["flavors"]["python_function"]
    assert pyfunc["env"] == {"conda": "conda.yaml", "virtualenv": "python_env.yaml"}
    assert pyfunc["python_version"].count(".") == 2
    assert raw["saved_input_example_info"]["artifact_path"] == "input_example.json"
    serving = json.loads((folder / "serving_input_example.json").read_text())
    assert set(serving) == ({"dataframe_split"} if flavor.columns else {"inputs"})


def test_requirements_pinned_to_installed_versions(flavor: FlavorCase, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    flavor.save(folder)
    lines = (folder / "requirements.txt").read_text().split()
    pins = dict(line.split("==") for line in lines)
    for dist, version in pins.items():
        assert importlib.metadata.version(dist).split("+")[0] == version
    expected = flavor.requirements | ({"pandas"} if flavor.columns else set())
    assert expected <= set(pins)
    env = yaml.safe_load((folder / "python_env.yaml").read_text())
    assert env["dependencies"] == ["-r requirements.txt"]
    conda = yaml.safe_load((folder / "conda.yaml").read_text())
    assert conda["dependencies"][-1] == {"pip": lines}


def test_signature_is_inferred_and_enforced(flavor: FlavorCase, tmp_path: Path) -> None:
    flavor.save(tmp_path / "model")
    loaded = shipyard.pyfunc.load_model(tmp_path / "model", trusted=flavor.needs_trust)
    signature = loaded.signature
    assert signature is not None and signature.inputs is not None
    assert signature.inputs.is_tensor is not flavor.columns
    if flavor.columns:
        first = str(flavor.data.columns[0])
        with pytest.raises(SignatureMismatch, match=repr(first)) as caught:
            loaded.predict(flavor.data.drop(columns=[first]))
        assert caught.value.column == first
    else:
        with pytest.raises(SignatureMismatch, match="shape"):
            loaded.predict(flavor.data[:, :2])


def test_log_model_then_load_by_run_uri(
    flavor: FlavorCase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    shipyard.set_tracking_uri(str(tmp_path / "tracking"))
    try:
        with shipyard.start_run() as run:
            info = flavor.log("model")
        assert info.model_uri == f"runs:/{run.run_id}/model"
        assert info.artifact_uri.endswith("/model")
        loaded = shipyard.pyfunc.load_model(info.model_uri, trusted=flavor.needs_trust)
        assert loaded.metadata.run_id == run.run_id
        assert loaded.metadata.model_uuid == info.model_uuid
        assert loaded.metadata.artifact_path == info.artifact_uri
        np.testing.assert_array_equal(np.asarray(loaded.predict(flavor.data)), flavor.expected)
    finally:
        shipyard.set_tracking_uri(None)


def test_truncated_model_file_is_a_clear_error(flavor: FlavorCase, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    flavor.save(folder)
    model_file = folder / flavor.model_file
    model_file.write_bytes(model_file.read_bytes()[:100])
    name = Path(flavor.model_file).name
    with pytest.raises(InvalidModel, match=f"{name} is corrupt or truncated"):
        shipyard.pyfunc.load_model(folder, trusted=True)


def test_missing_model_file_is_a_clear_error(flavor: FlavorCase, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    flavor.save(folder)
    (folder / flavor.model_file).unlink()
    with pytest.raises(InvalidModel, match=f"{flavor.model_file}' is missing"):
        shipyard.pyfunc.load_model(folder, trusted=True)


def test_loading_needs_trust_exactly_when_the_format_runs_code(
    flavor: FlavorCase, tmp_path: Path
) -> None:
    flavor.save(tmp_path / "model")
    if flavor.needs_trust:
        with pytest.raises(UntrustedModel, match="trusted=True"):
            shipyard.pyfunc.load_model(tmp_path / "model")
    else:
        shipyard.pyfunc.load_model(tmp_path / "model")


def test_input_example_round_trips(flavor: FlavorCase, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    flavor.save(folder)
    stored = json.loads((folder / "input_example.json").read_text())
    if flavor.columns:
        head = flavor.data.head(5)
        rebuilt = pd.DataFrame(stored["data"], columns=stored["columns"])
        assert list(rebuilt.columns) == [str(c) for c in head.columns]
        np.testing.assert_allclose(rebuilt.iloc[:, 0], head.iloc[:, 0])
    else:
        np.testing.assert_allclose(np.asarray(stored), flavor.data[:5])


def test_the_manifest_reads_back_equal(flavor: FlavorCase, tmp_path: Path) -> None:
    manifest = flavor.save(tmp_path / "model")
    again = read_manifest(tmp_path / "model")
    assert again.to_dict() == manifest.to_dict()
