"""What a package is, read without loading the model: manifest, requirements, profile size.

Only the small files are fetched (``MLmodel``, ``requirements.txt``, the profile), so describing
a 100 MB model on S3 or behind a tracking server moves kilobytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from shipyard.models._locate import open_package
from shipyard.models._manifest import MANIFEST_FILE, Manifest, read_manifest
from shipyard.models._profile import PROFILE_FILE
from shipyard.models._requirements import REQUIREMENTS_FILE, read_requirements
from shipyard.settings import Settings

__all__ = ["ModelDescription", "describe_model"]

_FILES = (MANIFEST_FILE, REQUIREMENTS_FILE, PROFILE_FILE)


@dataclass(frozen=True, slots=True)
class ModelDescription:
    uri: str
    manifest: Manifest
    requirements: list[str]
    profile_rows: int | None  # rows the reference profile summarises; None: no profile


def describe_model(
    uri: str | Path, settings: Settings | None = None, tracking_uri: str | None = None
) -> ModelDescription:
    settings = settings or Settings.from_env()
    with open_package(str(uri), settings, tracking_uri, files=_FILES) as package:
        manifest = read_manifest(package.path)
        requirements = read_requirements(package.path)
        rows = _profile_rows(package.path / PROFILE_FILE)
    return ModelDescription(str(uri), manifest, requirements, rows)


def _profile_rows(path: Path) -> int | None:
    try:
        rows = json.loads(path.read_text()).get("row_count")
    except (OSError, ValueError, AttributeError):
        return None
    return rows if isinstance(rows, int) else None
