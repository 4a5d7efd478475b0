"""``shipyard artifacts list|download|upload`` against a local tracking folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shipyard import Client
from shipyard.cli import _artifacts, app

runner = CliRunner()


@pytest.fixture
def run(tmp_path: Path) -> tuple[str, str]:
    folder = str(tmp_path / "data")
    return folder, Client(folder).create_run("0").info.run_id


def ok(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_upload_list_download(run: tuple[str, str], tmp_path: Path) -> None:
    folder, run_id = run
    src = tmp_path / "src"
    (src / "sub dir").mkdir(parents=True)
    (src / "a.txt").write_text("alpha")
    (src / "sub dir" / "b.bin").write_bytes(os.urandom(2500))
    assert "Uploaded 2 file(s)" in ok(
        "artifacts", "upload", str(src), "-r", run_id, "-a", "all", "-t", folder
    )
    assert "Uploaded 1 file(s)" in ok(
        "artifacts", "upload", str(src / "a.txt"), "-r", run_id, "-t", folder
    )
    top = ok("artifacts", "list", "-r", run_id, "-t", folder)
    assert "a.txt" in top and "5 bytes" in top and "all/" in top
    inner = ok("artifacts", "list", "all/sub dir", "-r", run_id, "-t", folder)
    assert "all/sub dir/b.bin" in inner and "2.5 kB" in inner
    out = ok("artifacts", "download", "all", "-r", run_id, "-d", str(tmp_path / "dl"), "-t", folder)
    assert "Downloaded to" in out and "Downloading" not in out  # small, not a terminal: no bar
    got = tmp_path / "dl" / "all"
    assert (got / "sub dir" / "b.bin").read_bytes() == (src / "sub dir" / "b.bin").read_bytes()
    assert "No artifacts under 'nope'" in ok(
        "artifacts", "list", "nope", "-r", run_id, "-t", folder
    )


def test_progress_bar_shows_bytes(run: tuple[str, str], tmp_path: Path) -> None:
    folder, run_id = run
    (tmp_path / "model.bin").write_bytes(os.urandom(3_000_000))
    out = ok(
        "artifacts", "upload", str(tmp_path / "model.bin"), "-r", run_id, "--progress", "-t", folder
    )
    assert "Uploading" in out and "3.0/3.0 MB" in out
    out = ok(
        "artifacts",
        "download",
        "model.bin",
        "-r",
        run_id,
        "-d",
        str(tmp_path / "dl"),
        "--progress",
        "-t",
        folder,
    )
    assert "Downloading" in out and "3.0/3.0 MB" in out
    quiet = ok(
        "artifacts",
        "download",
        "-r",
        run_id,
        "-d",
        str(tmp_path / "q"),
        "--no-progress",
        "-t",
        folder,
    )
    assert "Downloading" not in quiet


def test_large_transfers_show_a_bar_without_a_terminal(
    run: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, run_id = run
    monkeypatch.setattr(_artifacts, "LARGE_TRANSFER", 1000)
    (tmp_path / "f.bin").write_bytes(b"x" * 1500)
    assert "Uploading" in ok(
        "artifacts", "upload", str(tmp_path / "f.bin"), "-r", run_id, "-t", folder
    )
    (tmp_path / "g.bin").write_bytes(b"x" * 500)
    assert "Uploading" not in ok(
        "artifacts", "upload", str(tmp_path / "g.bin"), "-r", run_id, "-t", folder
    )


def test_errors_are_one_line(run: tuple[str, str], tmp_path: Path) -> None:
    folder, _ = run
    result = runner.invoke(app, ["artifacts", "list", "-r", "f" * 32, "-t", folder])
    assert result.exit_code == 1 and "RESOURCE_DOES_NOT_EXIST" in result.output
    result = runner.invoke(app, ["artifacts", "download", "../x", "-r", "f" * 32, "-t", folder])
    assert result.exit_code == 1 and "Traceback" not in result.output
    result = runner.invoke(
        app, ["artifacts", "upload", str(tmp_path / "absent"), "-r", "x", "-t", folder]
    )
    assert result.exit_code == 2  # typer: the path does not exist
