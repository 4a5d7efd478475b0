"""The MLmodel manifest: format versions, MLflow's keys, corrupt and truncated packages."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from _flavor_cases import iris_estimator
from hypothesis import given
from hypothesis import strategies as st

import shipyard.pyfunc
import shipyard.sklearn
from shipyard.errors import InvalidModel, UnsupportedModelFormat
from shipyard.models import FORMAT_VERSION, Manifest, read_manifest
from shipyard.models._manifest import write_manifest
from shipyard.models._signature import infer_signature


@pytest.fixture
def package(tmp_path: Path) -> Path:
    estimator, features = iris_estimator()
    shipyard.sklearn.save_model(estimator, tmp_path / "model", input_example=features[:2])
    return tmp_path / "model"


def _rewrite(folder: Path, **changes: object) -> None:
    raw = yaml.safe_load((folder / "MLmodel").read_text())
    raw.update(changes)
    (folder / "MLmodel").write_text(yaml.safe_dump(raw))


def test_a_newer_format_version_asks_for_an_upgrade(package: Path) -> None:
    _rewrite(package, shipyard_format_version=FORMAT_VERSION + 1, shipyard_version="9.0.0")
    with pytest.raises(UnsupportedModelFormat) as caught:
        shipyard.pyfunc.load_model(package)
    message = str(caught.value)
    assert f"format version {FORMAT_VERSION + 1}" in message
    assert "Shipyard 9.0.0" in message and "Upgrade shipyard" in message


@pytest.mark.parametrize("bad", ["one", 0, -3, True, 1.5])
def test_a_nonsense_format_version_is_invalid(package: Path, bad: object) -> None:
    _rewrite(package, shipyard_format_version=bad)
    with pytest.raises(InvalidModel, match="shipyard_format_version"):
        read_manifest(package)


def test_an_mlflow_manifest_without_our_version_reads_as_format_1(package: Path) -> None:
    raw = yaml.safe_load((package / "MLmodel").read_text())
    del raw["shipyard_format_version"], raw["shipyard_version"]
    (package / "MLmodel").write_text(yaml.safe_dump(raw))
    assert read_manifest(package).format_version == 1


def test_unknown_keys_survive_a_rewrite(package: Path) -> None:
    _rewrite(package, databricks_runtime="15.4", metadata={"team": "search"})
    manifest = read_manifest(package)
    write_manifest(manifest, package)
    raw = yaml.safe_load((package / "MLmodel").read_text())
    assert raw["databricks_runtime"] == "15.4" and raw["metadata"] == {"team": "search"}


def test_truncated_manifest_is_a_clear_error(package: Path) -> None:
    text = (package / "MLmodel").read_text()
    (package / "MLmodel").write_text(text[: len(text) // 3] + "\n  - [unclosed")
    with pytest.raises(InvalidModel, match="not valid YAML"):
        shipyard.pyfunc.load_model(package)


@pytest.mark.parametrize("content", ["", "just a string", "- a\n- list\n", "\x00\xff"])
def test_manifest_that_is_not_a_mapping(package: Path, content: str) -> None:
    (package / "MLmodel").write_text(content, encoding="latin-1")
    with pytest.raises(InvalidModel):
        read_manifest(package)


def test_missing_manifest_and_missing_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidModel, match="has no MLmodel file"):
        shipyard.pyfunc.load_model(tmp_path / "empty")
    with pytest.raises(InvalidModel, match="no such folder"):
        shipyard.pyfunc.load_model(tmp_path / "absent")


def test_manifest_without_flavors(package: Path) -> None:
    _rewrite(package, flavors={})
    with pytest.raises(InvalidModel, match="no flavors"):
        read_manifest(package)


def test_a_model_path_outside_the_package_is_refused(package: Path, tmp_path: Path) -> None:
    raw = yaml.safe_load((package / "MLmodel").read_text())
    raw["flavors"]["sklearn"]["pickled_model"] = "../../../etc/passwd"
    (package / "MLmodel").write_text(yaml.safe_dump(raw))
    with pytest.raises(InvalidModel, match="not inside the package"):
        shipyard.pyfunc.load_model(package)


def test_yaml_python_tags_are_not_executed(package: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = f"!!python/object/apply:os.system ['touch {marker}']\n"
    (package / "MLmodel").write_text(f"flavors: {payload}")
    with pytest.raises(InvalidModel):
        read_manifest(package)
    assert not marker.exists()


def test_unknown_loader_module_names_what_is_supported(package: Path) -> None:
    raw = yaml.safe_load((package / "MLmodel").read_text())
    raw["flavors"]["python_function"]["loader_module"] = "mlflow.transformers"
    (package / "MLmodel").write_text(yaml.safe_dump(raw))
    with pytest.raises(NotImplementedError, match=r"'mlflow.transformers'.*mlflow.sklearn"):
        shipyard.pyfunc.load_model(package)


def test_a_package_without_python_function_cannot_predict(package: Path) -> None:
    raw = yaml.safe_load((package / "MLmodel").read_text())
    del raw["flavors"]["python_function"]
    (package / "MLmodel").write_text(yaml.safe_dump(raw))
    with pytest.raises(InvalidModel, match="no python_function flavor"):
        shipyard.pyfunc.load_model(package)
    assert shipyard.sklearn.load_model(package).predict([[5.0, 3.0, 1.5, 0.2]]).shape == (1,)


@given(
    run_id=st.one_of(st.none(), st.text(alphabet="0123456789abcdef", min_size=32, max_size=32)),
    size=st.one_of(st.none(), st.integers(min_value=0, max_value=2**40)),
    extra=st.dictionaries(st.sampled_from(["metadata", "resources", "env_vars"]), st.text()),
)
def test_manifests_round_trip_through_yaml(
    run_id: str | None, size: int | None, extra: dict[str, str]
) -> None:
    manifest = Manifest(
        flavors={"python_function": {"loader_module": "mlflow.sklearn"}},
        signature=infer_signature([[1.0, 2.0]]),
        run_id=run_id,
        model_size_bytes=size,
        extra=extra,
    )
    raw = yaml.safe_load(yaml.safe_dump(manifest.to_dict()))
    assert Manifest.from_dict(raw).to_dict() == manifest.to_dict()
