"""The model's reference profile (``reference_profile.json`` in the package), seen as the
baseline each window is compared with.

The profile describes the training data with a 20-bin histogram per numeric column and the
listed categories per categorical column (see ``shipyard.models._profile``). Each column becomes a
``ReferenceColumn`` that also fixes the sketch a window of that column is counted into, so every
window of a model version lands on the same grid and window profiles merge.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shipyard.errors import InvalidModel, InvalidParameter
from shipyard.models import PROFILE_FILE
from shipyard.monitoring._sketch import FloatArray, NumericGrid
from shipyard.settings import Settings

__all__ = ["Reference", "ReferenceColumn", "load_reference"]


@dataclass(frozen=True)
class ReferenceColumn:
    """One reference column: where it comes from in the log, its kind and its baseline."""

    name: str  # the reference profile's column name
    log_column: str  # ``in.<name>`` or ``out.<name>``
    role: str  # "input" | "output"
    kind: str  # "numeric" | "categorical"
    count: int
    missing_rate: float
    grid: NumericGrid | None = None
    bin_counts: FloatArray | None = None  # the reference histogram (numeric)
    mean: float | None = None
    std: float | None = None
    categories: tuple[str, ...] = ()
    category_counts: FloatArray | None = None  # listed categories, then "other"


@dataclass(frozen=True)
class Reference:
    """All comparable columns of one reference profile, with an id that pins their grids."""

    columns: tuple[ReferenceColumn, ...]
    row_count: int
    profile_id: str

    def column(self, log_column: str) -> ReferenceColumn | None:
        return next((c for c in self.columns if c.log_column == log_column), None)

    @classmethod
    def from_profile(cls, profile: Mapping[str, Any]) -> Reference:
        if "inputs" not in profile or not isinstance(profile["inputs"], Mapping):
            raise InvalidParameter("the reference profile has no 'inputs' section")
        columns = [
            column
            for role, section in (("input", "inputs"), ("output", "outputs"))
            for name, spec in dict(profile.get(section) or {}).items()
            if (column := _column(role, str(name), spec, profile)) is not None
        ]
        digest = hashlib.sha256(json.dumps(profile, sort_keys=True).encode()).hexdigest()[:16]
        return cls(tuple(columns), int(profile.get("row_count", 0)), digest)


def load_reference(
    source: str | Path | Mapping[str, Any],
    settings: Settings | None = None,
    tracking_uri: str | None = None,
) -> Reference:
    """A reference from a profile dict, a profile JSON file, a model folder or a model URI."""
    if isinstance(source, Mapping):
        return Reference.from_profile(source)
    path = Path(source)
    if path.is_file():
        return Reference.from_profile(_read_json(path))
    if path.is_dir():
        return Reference.from_profile(_read_json(path / PROFILE_FILE))
    from shipyard.models._locate import open_package  # model URIs need the tracking client

    with open_package(
        str(source), settings or Settings.from_env(), tracking_uri, [PROFILE_FILE]
    ) as pkg:
        return Reference.from_profile(_read_json(pkg.path / PROFILE_FILE))


def _read_json(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise InvalidModel(
            f"{str(path)!r} does not exist: log the model with reference_data= to get a "
            "reference profile for drift"
        )
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise InvalidParameter(f"{str(path)!r} is not a JSON reference profile: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidParameter(f"{str(path)!r} is not a JSON reference profile")
    return data


def _column(
    role: str, name: str, spec: Mapping[str, Any], profile: Mapping[str, Any]
) -> ReferenceColumn | None:
    kind = spec.get("kind")
    log_column = f"in.{name}" if role == "input" else _output_column(name, profile)
    base: dict[str, Any] = {
        "name": name,
        "log_column": log_column,
        "role": role,
        "count": int(spec.get("count", 0)),
        "missing_rate": float(spec.get("missing_rate", 0.0)),
    }
    if kind in ("numeric", "datetime"):
        histogram = spec.get("histogram")
        if not histogram:
            return None
        edges = histogram["bin_edges"]
        return ReferenceColumn(
            kind="numeric",
            grid=NumericGrid.from_reference(edges),
            bin_counts=np.asarray(histogram["counts"], dtype=np.float64),
            mean=spec.get("mean"),
            std=spec.get("std"),
            **base,
        )
    if kind == "categorical":
        top = spec.get("top") or []
        total = base["count"]
        counts = [float(t["count"]) for t in top]
        counts.append(max(total - sum(counts), 0.0))
        return ReferenceColumn(
            kind="categorical",
            categories=tuple(str(t["value"]) for t in top),
            category_counts=np.asarray(counts),
            **base,
        )
    return None


def _output_column(name: str, profile: Mapping[str, Any]) -> str:
    outputs = profile.get("outputs") or {}
    if name == "prediction" or len(outputs) == 1:
        return "out.prediction"
    return f"out.{name}"
