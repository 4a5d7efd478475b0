"""Content digests: the same model saved twice (ids, times and memory addresses differ) has one
digest; a different model has another. Data digests cover files and folders."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import shipyard.sklearn
from shipyard.errors import InvalidParameter
from shipyard.projects import model_digest
from shipyard.projects._digests import data_digest, digest_data


def _skops_like(folder: Path, address: int, weights: bytes) -> Path:
    """A skops-style zip: a schema naming arrays by memory address, and the arrays."""
    folder.mkdir()
    schema = {
        "__id__": address + 7,
        "content": {"coef_": {"file": f"{address}.npy", "__id__": address}},
    }
    with zipfile.ZipFile(folder / "model.skops", "w") as archive:
        archive.writestr("schema.json", json.dumps(schema))
        archive.writestr(f"{address}.npy", weights)
    (folder / "MLmodel").write_text(f"model_uuid: {address}\nflavors: {{sklearn: {{}}}}\n")
    return folder


def test_addresses_ids_and_times_do_not_change_the_content_digest(tmp_path: Path) -> None:
    a = _skops_like(tmp_path / "a", 140001, b"weights")
    b = _skops_like(tmp_path / "b", 139999999, b"weights")
    c = _skops_like(tmp_path / "c", 140001, b"other weights")
    assert (a / "model.skops").read_bytes() != (b / "model.skops").read_bytes()
    assert model_digest(a) == model_digest(b)
    assert model_digest(a) != model_digest(c)


def test_same_sklearn_model_saved_twice_has_one_content_digest(tmp_path: Path) -> None:
    x, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(x, y)
    for name in ("a", "b"):
        shipyard.sklearn.save_model(model, tmp_path / name)
    shipyard.sklearn.save_model(LogisticRegression(C=0.5, max_iter=500).fit(x, y), tmp_path / "c")
    assert (tmp_path / "a" / "MLmodel").read_text() != (tmp_path / "b" / "MLmodel").read_text()
    assert model_digest(tmp_path / "a") == model_digest(tmp_path / "b")
    assert model_digest(tmp_path / "a") != model_digest(tmp_path / "c")


def test_cloudpickle_models_digest_by_bytes(tmp_path: Path) -> None:
    x, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(x, y)
    for name in ("a", "b"):
        shipyard.sklearn.save_model(model, tmp_path / name, serialization_format="cloudpickle")
    assert model_digest(tmp_path / "a") == model_digest(tmp_path / "b")


def test_data_digests_of_files_and_folders(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.csv").write_text("a,b\n1,2\n")
    (tmp_path / "d" / "y.csv").write_text("a\n3\n")
    sha, size = data_digest(tmp_path / "d" / "x.csv")
    assert (sha, size) == (hashlib.sha256(b"a,b\n1,2\n").hexdigest(), 8)
    before, _ = data_digest(tmp_path / "d")
    (tmp_path / "d" / "y.csv").write_text("a\n4\n")
    assert data_digest(tmp_path / "d")[0] != before
    found = digest_data(["d/x.csv", "d", "d/x.csv"], tmp_path)
    assert [d.path for d in found] == ["d/x.csv", "d"]
    assert found[0].location == str((tmp_path / "d" / "x.csv").resolve())
    with pytest.raises(InvalidParameter, match=r"Declared data not found in .*: d/z\.csv"):
        digest_data(["d/z.csv"], tmp_path)
