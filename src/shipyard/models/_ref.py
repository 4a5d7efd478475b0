"""What a model URI names for serving and logging: the model's name, and a fixed version or a
registry alias to follow (``models:/fraud@production``). A pure parse: nothing is resolved."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ModelRef", "parse_model_uri"]

_ALIAS = re.compile(r"^models:/(?P<name>[^/@]+)@(?P<alias>[^/@]+)/?$")
_VERSION = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>\d+)/?$")


@dataclass(frozen=True, slots=True)
class ModelRef:
    """The served URI split into what the server reports and whether it follows an alias."""

    uri: str
    name: str
    alias: str | None = None
    version: str | None = None  # fixed version (None when following, or unknown)


def parse_model_uri(uri: str, name: str | None = None) -> ModelRef:
    """``models:/fraud@production`` -> follow ``production``; other URIs are fixed."""
    if match := _ALIAS.match(uri):
        return ModelRef(uri, name or match["name"], alias=match["alias"])
    if match := _VERSION.match(uri):
        return ModelRef(uri, name or match["name"], version=match["version"])
    default = Path(uri.rstrip("/")).name or "model"
    return ModelRef(uri, name or default)
