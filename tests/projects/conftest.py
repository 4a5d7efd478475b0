"""Projects fixtures: copies of the example project in fresh git repositories, one environment
cache shared by the whole session (the example's virtualenv is built once), and a tiny local
wheel index so environments install something real without a network."""

from __future__ import annotations

import base64
import hashlib
import io
import shutil
import subprocess
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from shipyard import Client
from shipyard.projects import RunOptions, run_project

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "project"


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        cwd=repo, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip()


def commit_all(repo: Path, message: str = "change") -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def commit() -> Callable[[Path, str], str]:
    """``commit(repo, message)``: commit everything in ``repo``; returns the new commit."""
    return commit_all


@pytest.fixture(scope="session")
def env_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the session: the example's virtualenv is built by the first test only."""
    return tmp_path_factory.mktemp("env-cache")


@pytest.fixture
def store(tmp_path: Path) -> Client:
    return Client(str(tmp_path / "tracking"))


@pytest.fixture
def offline_pip(monkeypatch: pytest.MonkeyPatch, wheelhouse: Path) -> Path:
    """pip (run by the environment builder) installs only from the local wheelhouse."""
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheelhouse))
    return wheelhouse


def copy_example(repo: Path, track_data: bool = False) -> Path:
    """The example project committed in a new git repository; unless ``track_data``, git ignores
    the data folder (data lives outside the code, as it usually does)."""
    shutil.copytree(EXAMPLE, repo)
    if not track_data:
        (repo / ".gitignore").write_text("data/\n")
    git(repo, "init", "-q", "-b", "main")
    commit_all(repo, "example project")
    return repo


@pytest.fixture
def example_repo(tmp_path: Path, offline_pip: Path) -> Callable[..., Path]:
    """``example_repo()``: a fresh copy of the example project in its own git repository."""
    return lambda name="project", track_data=False: copy_example(tmp_path / name, track_data)


@dataclass(frozen=True)
class RecordedRun:
    repo: Path
    client: Client
    run_id: str
    output: str


@pytest.fixture(scope="session")
def example_run(
    tmp_path_factory: pytest.TempPathFactory, env_cache: Path, wheelhouse: Path
) -> RecordedRun:
    """One run of the example project (with uncommitted work: an edit and an untracked file),
    shared by the tests that read what it recorded and the one that reproduces it."""
    folder = tmp_path_factory.mktemp("example-run")
    repo = copy_example(folder / "project")
    (repo / "NOTES.md").write_text("an untracked file\n")
    with (repo / "train.py").open("a") as f:
        f.write("# an uncommitted edit\n")
    client = Client(str(folder / "tracking"))
    out = io.StringIO()
    params = {"seed": "7", "n_estimators": "10"}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PIP_NO_INDEX", "1")
        patch.setenv("PIP_FIND_LINKS", str(wheelhouse))
        options = RunOptions(str(repo), params=params, cache_dir=env_cache)
        outcome = run_project(client, options, out, lambda _: None)
    assert outcome.status == "FINISHED", out.getvalue()
    return RecordedRun(repo, client, outcome.run_id, out.getvalue())


def make_wheel(folder: Path, name: str, version: str) -> Path:
    """A pure-Python wheel built by hand: ``import name; name.__version__``."""
    files = {
        f"{name}/__init__.py": f'__version__ = "{version}"\n',
        f"{name}-{version}.dist-info/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        ),
        f"{name}-{version}.dist-info/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{name}-{version}.dist-info/RECORD,,")
    files[f"{name}-{version}.dist-info/RECORD"] = "\n".join(record) + "\n"
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    wheel.write_bytes(buffer.getvalue())
    return wheel


@pytest.fixture
def publish(offline_pip: Path) -> Callable[[str, str], Path]:
    """``publish(name, version)``: put a new wheel into the local index pip installs from."""
    return lambda name, version: make_wheel(offline_pip, name, version)


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("wheels")
    make_wheel(folder, "tinydep", "1.0")
    yield folder
