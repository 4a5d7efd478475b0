"""The ``MLmodel`` manifest: MLflow's YAML layout plus ``shipyard_format_version``.

A package is a folder whose ``MLmodel`` names its flavors (how each framework loads it, and the
``python_function`` entry every generic loader uses), its signature, input example, ids and size.
Shipyard writes MLflow's keys so the official client loads our packages, and reads MLflow's so we
load theirs. ``shipyard_format_version`` is the version of what Shipyard itself adds; a package
from a newer Shipyard is refused with a message naming both versions, never half-read. A folder
without it (written by MLflow) is read as format 1. Keys this version does not know are kept, so
reading and rewriting a manifest loses nothing.

YAML is parsed with ``safe_load`` only (no Python tags), and files the manifest names are resolved
inside the package folder: a crafted ``model_path: ../../etc/passwd`` is a corrupt package.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from shipyard import __version__
from shipyard.artifacts import resolve_under
from shipyard.errors import InvalidModel, InvalidPath, UnsupportedModelFormat
from shipyard.models._signature import Signature

__all__ = [
    "FORMAT_VERSION",
    "MANIFEST_FILE",
    "MLFLOW_LAYOUT_VERSION",
    "PYFUNC",
    "Manifest",
    "package_file",
    "read_manifest",
    "write_manifest",
]

FORMAT_VERSION = 1
MANIFEST_FILE = "MLmodel"
MLFLOW_LAYOUT_VERSION = "3.17.2"
"""Written as ``mlflow_version``: the MLflow release whose MLmodel layout we follow."""
PYFUNC = "python_function"
_MAX_MANIFEST_BYTES = 1 << 20
_KNOWN = (
    "flavors", "signature", "saved_input_example_info", "model_uuid", "model_id", "run_id",
    "artifact_path", "utc_time_created", "model_size_bytes", "mlflow_version",
    "shipyard_version", "shipyard_format_version",
)  # fmt: skip


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


@dataclass(slots=True)
class Manifest:
    """What an ``MLmodel`` file says; ``extra`` holds keys this Shipyard does not interpret."""

    flavors: dict[str, dict[str, Any]]
    model_uuid: str = field(default_factory=lambda: uuid.uuid4().hex)
    utc_time_created: str = field(default_factory=_now)
    signature: Signature | None = None
    saved_input_example_info: dict[str, Any] | None = None
    run_id: str | None = None
    artifact_path: str | None = None
    model_id: str | None = None
    model_size_bytes: int | None = None
    mlflow_version: str | None = MLFLOW_LAYOUT_VERSION
    shipyard_version: str | None = __version__
    format_version: int = FORMAT_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pyfunc(self) -> dict[str, Any]:
        """The ``python_function`` flavor: how a generic loader loads this package."""
        conf = self.flavors.get(PYFUNC)
        if not isinstance(conf, dict):
            raise InvalidModel(
                f"This model has no {PYFUNC} flavor (it has {sorted(self.flavors)}), so it cannot "
                "be loaded for predict(); load it with its own flavor's load_model"
            )
        return conf

    @property
    def loader_module(self) -> str:
        module = self.pyfunc.get("loader_module")
        if not isinstance(module, str) or not module:
            raise InvalidModel(f"The MLmodel's {PYFUNC} flavor names no loader_module")
        return module

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "artifact_path": self.artifact_path,
            "flavors": self.flavors,
            "mlflow_version": self.mlflow_version,
            "model_id": self.model_id,
            "model_size_bytes": self.model_size_bytes,
            "model_uuid": self.model_uuid,
            "run_id": self.run_id,
            "saved_input_example_info": self.saved_input_example_info,
            "shipyard_format_version": self.format_version,
            "shipyard_version": self.shipyard_version,
            "signature": self.signature.to_dict() if self.signature else None,
            "utc_time_created": self.utc_time_created,
        }
        body = {k: v for k, v in body.items() if v is not None}
        return dict(sorted((body | self.extra).items()))

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Manifest:
        version = _format_version(raw)
        flavors = raw.get("flavors")
        if not isinstance(flavors, dict) or not flavors:
            raise InvalidModel("The MLmodel file has no flavors: it is not a model package")
        signature = raw.get("signature")
        if signature is not None and not isinstance(signature, dict):
            raise InvalidModel("The MLmodel's signature must be a mapping")
        return cls(
            flavors={str(k): dict(v or {}) for k, v in flavors.items()},
            model_uuid=str(raw.get("model_uuid") or raw.get("model_id") or uuid.uuid4().hex),
            utc_time_created=str(raw.get("utc_time_created", "")),
            signature=Signature.from_dict(signature) if signature else None,
            saved_input_example_info=raw.get("saved_input_example_info"),
            run_id=raw.get("run_id"),
            artifact_path=raw.get("artifact_path"),
            model_id=raw.get("model_id"),
            model_size_bytes=_optional_int(raw.get("model_size_bytes")),
            mlflow_version=raw.get("mlflow_version"),
            shipyard_version=raw.get("shipyard_version"),
            format_version=version,
            extra={k: v for k, v in raw.items() if k not in _KNOWN},
        )


def _format_version(raw: Mapping[str, Any]) -> int:
    version = raw.get("shipyard_format_version", FORMAT_VERSION)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise InvalidModel(f"The MLmodel's shipyard_format_version {version!r} is not a version")
    if version > FORMAT_VERSION:
        writer = raw.get("shipyard_version", "a newer Shipyard")
        raise UnsupportedModelFormat(
            f"This model package uses format version {version} (written by Shipyard {writer}); "
            f"this Shipyard ({__version__}) reads format versions up to {FORMAT_VERSION}. "
            "Upgrade shipyard (pip install -U shipyard-ml) to load it."
        )
    return version


def _optional_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def read_manifest(folder: str | Path) -> Manifest:
    """Read ``folder/MLmodel``; a clear ``InvalidModel`` for anything missing or corrupt."""
    root = Path(folder)
    path = root / MANIFEST_FILE
    if not root.is_dir():
        raise InvalidModel(f"{str(root)!r} is not a model package: no such folder")
    if not path.is_file():
        raise InvalidModel(
            f"{str(root)!r} is not a model package: it has no {MANIFEST_FILE} file "
            "(was the download interrupted, or is this the wrong folder?)"
        )
    if path.stat().st_size > _MAX_MANIFEST_BYTES:
        raise InvalidModel(f"{str(path)!r} is larger than {_MAX_MANIFEST_BYTES} bytes")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InvalidModel(
            f"{str(path)!r} is not valid YAML (truncated or corrupt?): {_first_line(exc)}"
        ) from None
    if not isinstance(raw, dict):
        raise InvalidModel(f"{str(path)!r} is not a YAML mapping (truncated or corrupt?)")
    return Manifest.from_dict(raw)


def write_manifest(manifest: Manifest, folder: str | Path) -> Path:
    path = Path(folder) / MANIFEST_FILE
    text = yaml.safe_dump(manifest.to_dict(), sort_keys=False, default_flow_style=False)
    path.write_text(text, encoding="utf-8")
    return path


def package_file(folder: str | Path, relative: Any, what: str) -> Path:
    """``folder/relative`` for a path the manifest names; it must exist and stay inside."""
    if not isinstance(relative, str) or not relative:
        raise InvalidModel(f"The MLmodel names no {what}")
    try:
        path = resolve_under(Path(folder).resolve(), relative)
    except InvalidPath as exc:
        raise InvalidModel(
            f"The MLmodel's {what} {relative!r} is not inside the package: {exc}"
        ) from None
    if not path.exists():
        raise InvalidModel(
            f"The model package is incomplete: its {what} {relative!r} is missing "
            "(was the download or upload interrupted?)"
        )
    return path


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
