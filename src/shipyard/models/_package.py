"""Writing a model package: everything but the model file itself, shared by every flavor.

A flavor creates the folder (``new_package_folder``), writes its model file, then hands the rest
to ``write_package``: the input example, the signature (given, or inferred from the example and
the model's prediction on it), the pinned environment, the reference profile and the manifest.
"""

from __future__ import annotations

import platform
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from shipyard.errors import InvalidParameter
from shipyard.models._example import as_example, save_example
from shipyard.models._manifest import MANIFEST_FILE, PYFUNC, Manifest, write_manifest
from shipyard.models._profile import build_profile, write_profile
from shipyard.models._requirements import pin_requirements, write_environment
from shipyard.models._signature import Signature, infer_signature

__all__ = ["PackageOptions", "new_package_folder", "write_package"]


@dataclass(frozen=True, slots=True)
class PackageOptions:
    """What every flavor's ``save_model`` and ``log_model`` accept besides the model."""

    input_example: Any = None
    signature: Signature | None = None
    reference_data: Any = None
    reference_predictions: Any = None
    extra_pip_requirements: Sequence[str] = field(default_factory=tuple)


def new_package_folder(path: str | Path) -> Path:
    """Create ``path`` for a new package; an existing non-empty folder is never overwritten."""
    folder = Path(path)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise InvalidParameter(f"{str(folder)!r} already exists and is not an empty folder")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_package(
    folder: Path,
    *,
    flavor: tuple[str, dict[str, Any]] | None,
    pyfunc: dict[str, Any],
    modules: Iterable[str],
    options: PackageOptions,
    predict: Callable[[Any], Any] | None = None,
) -> Manifest:
    """Write everything around the model file already in ``folder``; returns the manifest."""
    example = None if options.input_example is None else as_example(options.input_example)
    signature = options.signature or _infer(example, predict)
    manifest = Manifest(flavors={}, signature=signature)
    if example is not None:
        manifest.saved_input_example_info = save_example(example, folder)
    columns = isinstance(example, pd.DataFrame) or bool(
        signature and signature.inputs and not signature.inputs.is_tensor
    )
    env = _environment(folder, {*modules, *(["pandas"] if columns else [])}, options)
    if options.reference_data is not None:
        profile = build_profile(options.reference_data, options.reference_predictions)
        write_profile(profile, folder)
    python = {**pyfunc, "env": env, "python_version": platform.python_version()}
    manifest.flavors = {PYFUNC: python, **dict([flavor] if flavor else [])}
    manifest.model_size_bytes = _size(folder)
    write_manifest(manifest, folder)
    return manifest


def _infer(example: Any, predict: Callable[[Any], Any] | None) -> Signature | None:
    if example is None:
        return None
    output = None
    if predict is not None:
        try:
            output = predict(example)
        except Exception as exc:  # the signature's inputs still help; say why outputs are absent
            warnings.warn(
                f"The model failed to predict on its input example, so the signature has no "
                f"outputs: {exc}",
                stacklevel=3,
            )
    return infer_signature(example, output)


def _environment(folder: Path, modules: set[str], options: PackageOptions) -> dict[str, str]:
    pinned, unknown = pin_requirements(modules)
    if unknown:
        warnings.warn(
            f"The model uses modules no installed distribution provides ({', '.join(unknown)}); "
            "they are not in requirements.txt and must be importable wherever it is loaded",
            stacklevel=3,
        )
    extra = [line.strip() for line in options.extra_pip_requirements if line.strip()]
    return write_environment(folder, [*pinned, *extra])


def _size(folder: Path) -> int:
    files = (p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST_FILE)
    return sum(p.stat().st_size for p in files)
