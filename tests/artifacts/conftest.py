"""The repositories every contract test runs against: a local folder and S3 on ``moto_server``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from shipyard.artifacts import ArtifactRepository, LocalArtifactRepository, S3ArtifactRepository

Factory = Callable[[Path, pytest.FixtureRequest], ArtifactRepository]

MiB = 1024 * 1024


def _s3(_folder: Path, request: pytest.FixtureRequest) -> ArtifactRepository:
    moto = request.getfixturevalue("moto_server")
    # A prefix with a sibling that shares its first letters: keys must stay inside "runs/r1".
    return S3ArtifactRepository(moto.new_bucket(), "runs/r1", moto.settings)


REPOSITORIES: dict[str, Factory] = {
    "local": lambda folder, _request: LocalArtifactRepository(folder / "artifacts"),
    "s3": _s3,
}

# Peak traced memory while a 64 MiB file goes in and out: the local repository holds one chunk;
# S3 holds the part being filled plus the parts in flight (8 MiB each), never the whole file.
MEMORY_BUDGET = {"local": 8 * MiB, "s3": 48 * MiB}


@pytest.fixture(params=sorted(REPOSITORIES))
def repo(request: pytest.FixtureRequest, tmp_path: Path) -> ArtifactRepository:
    return REPOSITORIES[request.param](tmp_path, request)


@pytest.fixture
def memory_budget(request: pytest.FixtureRequest) -> int:
    return MEMORY_BUDGET[request.node.callspec.params["repo"]]
