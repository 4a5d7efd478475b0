"""Fluent artifact calls against a local tracking folder."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

import shipyard


@pytest.fixture
def uri(tmp_path: Path) -> Iterator[str]:
    shipyard.set_tracking_uri(str(tmp_path / "data"))
    yield str(tmp_path / "data")
    shipyard.set_tracking_uri(None)


def test_log_list_and_download(uri: str, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.csv").write_text("x,y\n1,2\n")
    (src / "sub" / "b.bin").write_bytes(bytes(range(256)) * 40)
    with shipyard.start_run() as run:
        shipyard.log_artifact(src / "a.csv", artifact_path="tables")
        shipyard.log_artifacts(src, artifact_path="all")
        shipyard.log_text("hello", "notes/readme.txt")
        shipyard.log_dict({"k": [1, 2]}, "config.json")
        shipyard.log_dict({"k": [1, 2]}, "config.yaml")
    top = {f.path: f for f in shipyard.list_artifacts(run.run_id)}
    assert set(top) == {"tables", "all", "notes", "config.json", "config.yaml"}
    assert top["tables"].is_dir and not top["config.json"].is_dir
    sub = {f.path: f.file_size for f in shipyard.list_artifacts(run.run_id, "all/sub")}
    assert sub == {"all/sub/b.bin": 10240}
    out = shipyard.download_artifacts(run.run_id, dst=tmp_path / "dl")
    assert (out / "all" / "sub" / "b.bin").read_bytes() == (src / "sub" / "b.bin").read_bytes()
    assert (out / "notes" / "readme.txt").read_text() == "hello"
    assert json.loads((out / "config.json").read_text()) == {"k": [1, 2]}
    assert yaml.safe_load((out / "config.yaml").read_text()) == {"k": [1, 2]}
