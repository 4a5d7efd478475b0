"""Fluent artifact calls against a local tracking folder, and SDK transfers to a live server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import yaml

import shipyard
from shipyard.client._artifacts import download_run_artifacts, list_run_artifacts, log_run_artifact
from shipyard.errors import InvalidParameter


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


def test_log_figure_in_the_format_of_its_name(uri: str, tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure()
    figure.subplots().plot([1, 2, 3], [3, 1, 2])
    with shipyard.start_run() as run:
        assert shipyard.log_figure(figure, "plots/line.png") == "plots/line.png"
        shipyard.log_figure(figure, "plots/line.svg", save_kwargs={"transparent": True})
        with pytest.raises(InvalidParameter, match="Figure"):
            shipyard.log_figure("not a figure", "plots/x.png")
        with pytest.raises(InvalidParameter, match="suffix"):
            shipyard.log_figure(figure, "plots/noformat")
    out = shipyard.download_artifacts(run.run_id, "plots", tmp_path / "dl")
    assert (out / "line.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert "<svg" in (out / "line.svg").read_text()
    assert sorted(p.name for p in out.iterdir()) == ["line.png", "line.svg"]


def test_log_table_writes_mlflows_format_and_appends(uri: str, tmp_path: Path) -> None:
    with shipyard.start_run() as run:
        shipyard.log_table({"q": ["a", "b"], "score": [0.5, 1.0]}, "eval/results.json")
        shipyard.log_table(pd.DataFrame({"q": ["c"], "score": [0.25]}), "eval/results.json")
        shipyard.log_table({"question": "one row?"}, "eval/single.json")
        shipyard.log_table({"x": [1, 2]}, "eval/x.parquet")
        with pytest.raises(InvalidParameter, match=r"\.json or \.parquet"):
            shipyard.log_table({"x": [1]}, "eval/x.csv")
        with pytest.raises(InvalidParameter, match="DataFrame or a dict"):
            shipyard.log_table([1, 2], "eval/list.json")
    out = shipyard.download_artifacts(run.run_id, "eval", tmp_path / "dl")
    assert json.loads((out / "results.json").read_text()) == {
        "columns": ["q", "score"],
        "data": [["a", 0.5], ["b", 1.0], ["c", 0.25]],
    }
    assert json.loads((out / "single.json").read_text()) == {
        "columns": ["question"],
        "data": [["one row?"]],
    }
    assert pd.read_parquet(out / "x.parquet")["x"].tolist() == [1, 2]
    tags = shipyard.Client(uri).get_run(run.run_id).data.tags
    assert json.loads(tags["mlflow.loggedArtifacts"]) == [
        {"path": "eval/results.json", "type": "table"},
        {"path": "eval/single.json", "type": "table"},
        {"path": "eval/x.parquet", "type": "table"},
    ]


def test_a_server_client_reuses_its_connection_pool(
    live_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = shipyard.Client(live_server)
    run_id = client.create_run("0").info.run_id
    opened: list[object] = []
    original = httpx.Client.__init__

    def counting(self: httpx.Client, *args: Any, **kwargs: Any) -> None:
        opened.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(httpx.Client, "__init__", counting)
    (tmp_path / "a.txt").write_text("alpha")
    for name in ("one", "two", "three"):
        log_run_artifact(client, run_id, tmp_path / "a.txt", name)
    assert [f.path for f in list_run_artifacts(client, run_id)] == ["one", "three", "two"]
    out = download_run_artifacts(client, run_id, "two", tmp_path / "dl")
    assert (out / "a.txt").read_text() == "alpha"
    assert opened == []  # every transfer went over the RestStore's keep-alive pool
