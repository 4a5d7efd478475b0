"""What a gate needs from the model registry, as a small protocol.

``shipyard.Client`` provides all of it; tests and other front ends may pass anything with the
same methods. The gate reads the candidate's version and the baseline (the version holding the
target alias), records its decision in the audit trail, moves the alias on ``--promote``, and
logs its report as artifacts of the version's source run.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from shipyard.errors import InvalidParameter

__all__ = [
    "GATE_EVENT",
    "ArtifactSink",
    "Registry",
    "RegistryVersion",
    "parse_registry_uri",
]

GATE_EVENT = "gate.decision"
_VERSION_URI = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>\d+)/?$")
_ALIAS_URI = re.compile(r"^models:/(?P<name>[^/@]+)@(?P<alias>[\w\-]+)/?$")


class RegistryVersion(Protocol):
    """The fields of ``shipyard.entities.ModelVersion`` a gate reads."""

    @property
    def name(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def run_id(self) -> str | None: ...
    @property
    def source(self) -> str: ...


@runtime_checkable
class Registry(Protocol):
    def get_model_version(self, name: str, version: str) -> RegistryVersion: ...

    def get_model_version_by_alias(self, name: str, alias: str) -> RegistryVersion: ...

    def set_registered_model_alias(
        self, name: str, alias: str, version: str, reason: str | None = None
    ) -> Any: ...

    def record_registry_event(
        self,
        name: str,
        action: str,
        details: dict[str, Any],
        reason: str | None = None,
        version: str | None = None,
    ) -> Any: ...


@runtime_checkable
class ArtifactSink(Protocol):
    """Where report files go: a run's artifacts (``log_run_artifacts`` for a ``Client``)."""

    def log_report(self, run_id: str, folder: Path, artifact_path: str) -> list[str]: ...


def parse_registry_uri(uri: str) -> tuple[str, str | None, str | None] | None:
    """``models:/name/3`` -> (name, "3", None); ``models:/name@prod`` -> (name, None, "prod");
    None for other URIs (folders, ``runs:/``, ``models:/m-<id>``)."""
    if not uri.startswith("models:/"):
        return None
    if found := _VERSION_URI.match(uri):
        return found["name"], found["version"], None
    if found := _ALIAS_URI.match(uri):
        return found["name"], None, found["alias"]
    if uri.removeprefix("models:/").startswith("m-"):
        return None
    raise InvalidParameter(f"{uri!r} is not models:/<name>/<version> or models:/<name>@<alias>")
