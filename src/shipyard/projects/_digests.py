"""Content digests: of declared input data, and of model packages.

A model package's bytes change from one save to the next even when the model is the same: the
``MLmodel`` file carries ids and a creation time, and a skops file is a zip with timestamps whose
member names are memory addresses. The *content* digest leaves those out: it hashes the MLmodel
without its per-save keys, a zip by its members' contents, and a skops schema with the addresses
renumbered in order of appearance. Two packages with the same digest hold the same model.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from shipyard.errors import InvalidParameter

__all__ = ["DataDigest", "data_digest", "digest_data", "model_digest"]

_PER_SAVE_KEYS = {
    "artifact_path",
    "model_id",
    "model_size_bytes",
    "model_uuid",
    "run_id",
    "utc_time_created",
}
_ADDRESS_FILE = re.compile(r"^(\d+)(\.\w+)$")


@dataclass(frozen=True, slots=True)
class DataDigest:
    path: str  # as declared, relative to the project folder (or absolute)
    sha256: str
    size: int
    location: str  # the absolute path it was read from

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "sha256": self.sha256,
            "size": self.size,
            "location": self.location,
        }


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def data_digest(path: Path) -> tuple[str, int]:
    """(sha256, bytes) of a file, or of a folder's files with their relative names."""
    if path.is_file():
        return _file_sha256(path), path.stat().st_size
    if not path.is_dir():
        raise InvalidParameter(f"Data file '{path}' does not exist.")
    h, size = hashlib.sha256(), 0
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(f"{file.relative_to(path).as_posix()}\0{_file_sha256(file)}\n".encode())
        size += file.stat().st_size
    return h.hexdigest(), size


def digest_data(declared: list[str], folder: Path) -> list[DataDigest]:
    """Digest each declared data path (relative to ``folder``); a missing one is an error."""
    missing = [p for p in declared if not (folder / p).exists()]
    if missing:
        raise InvalidParameter(f"Declared data not found in {folder}: {', '.join(missing)}")
    out = []
    for declared_path in dict.fromkeys(declared):
        location = (folder / declared_path).resolve()
        sha, size = data_digest(location)
        out.append(DataDigest(declared_path, sha, size, str(location)))
    return out


def _renumber(node: Any, ids: dict[str, int]) -> Any:
    """A skops schema with ``__id__`` addresses (and files named by them) numbered in order."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "__id__":
                out[key] = ids.setdefault(str(value), len(ids))
            elif key == "file" and isinstance(value, str) and _ADDRESS_FILE.match(value):
                number, suffix = _ADDRESS_FILE.match(value).groups()  # type: ignore[union-attr]
                out[key] = f"{ids.setdefault(number, len(ids))}{suffix}"
            else:
                out[key] = _renumber(value, ids)
        return out
    if isinstance(node, list):
        return [_renumber(v, ids) for v in node]
    return node


def _zip_digest(data: bytes) -> str:
    h = hashlib.sha256()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = sorted(archive.namelist())
        if "schema.json" not in names:  # a plain zip: members by name and content
            for name in names:
                h.update(f"{name}\0{hashlib.sha256(archive.read(name)).hexdigest()}\n".encode())
            return h.hexdigest()
        ids: dict[str, int] = {}
        schema = _renumber(json.loads(archive.read("schema.json")), ids)
        h.update(json.dumps(schema, sort_keys=True).encode())
        members = []
        for name in names:
            if name == "schema.json":
                continue
            match = _ADDRESS_FILE.match(name)
            renamed = (
                f"{ids[match.group(1)]}{match.group(2)}"
                if match and match.group(1) in ids
                else name
            )
            members.append((renamed, hashlib.sha256(archive.read(name)).hexdigest()))
        for renamed, sha in sorted(members):
            h.update(f"{renamed}\0{sha}\n".encode())
    return h.hexdigest()


def _manifest_digest(data: bytes) -> str:
    manifest = yaml.safe_load(data) or {}
    kept = {k: v for k, v in manifest.items() if k not in _PER_SAVE_KEYS}
    return hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()


def _content_digest(path: Path) -> str:
    data = path.read_bytes()
    if path.name == "MLmodel":
        return _manifest_digest(data)
    if zipfile.is_zipfile(io.BytesIO(data)):
        return _zip_digest(data)
    return hashlib.sha256(data).hexdigest()


def model_digest(folder: Path) -> str:
    """The content digest of a model package folder (see the module's docstring)."""
    h = hashlib.sha256()
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(f"{file.relative_to(folder).as_posix()}\0{_content_digest(file)}\n".encode())
    return h.hexdigest()
