"""Deny-by-default loading: model files that can run code load only when their source is trusted.

``pickle`` and ``cloudpickle`` run arbitrary code while loading (MLflow's CVE-2024-37052..37060
are exactly this), so they need ``trusted=True`` or ``SHIPYARD_TRUST_PICKLE=true``. ``skops``
files describe objects instead of running them; a type is rebuilt only if it is on an allowlist:
the classes scikit-learn, NumPy and SciPy ship (minus modules that read or write files), NumPy
ufuncs, and scikit-learn's metric and score functions. Anything else (a custom transformer, a
stray function) again needs trust. The ``skops_trusted_types`` list MLflow writes into the MLmodel
is never consulted: it comes from the file being checked, so a crafted model could allow itself.
"""

from __future__ import annotations

import contextlib
import importlib
import pickle
import re
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np

from shipyard.errors import InvalidModel, UntrustedModel
from shipyard.models._skops import skops_io

__all__ = [
    "invalid_if_corrupt",
    "load_pickle",
    "load_skops",
    "refuse_untrusted",
    "skops_untrusted",
]

_TRUST_HOW = (
    "Load it only if you trust where it came from: pass trusted=True "
    "(shipyard.pyfunc.load_model(uri, trusted=True)) or set SHIPYARD_TRUST_PICKLE=true."
)
_LIBRARIES = ("sklearn", "numpy", "scipy")
_FILE_MODULES = (  # modules of these libraries that read, write or fetch files
    "sklearn.datasets", "sklearn.externals", "sklearn.utils._testing", "numpy.lib.npyio",
    "numpy.lib._npyio_impl", "numpy.lib.format", "numpy.lib._format_impl", "numpy.ctypeslib",
    "numpy.f2py", "numpy.testing", "numpy.distutils", "scipy.io", "scipy._lib._testutils",
)  # fmt: skip
_FUNCTION_MODULES = ("sklearn.metrics", "sklearn.feature_selection", "scipy.special")
_CORRUPT = (EOFError, ValueError, KeyError, zipfile.BadZipFile, pickle.UnpicklingError)
_DOTTED = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+$")


def refuse_untrusted(what: str) -> UntrustedModel:
    return UntrustedModel(
        f"{what}: a format that can run arbitrary code while loading, so Shipyard refuses it "
        f"by default. {_TRUST_HOW}"
    )


def load_pickle(path: Path, fmt: str, trusted: bool) -> Any:
    """Load a ``pickle`` or ``cloudpickle`` file, only when trusted."""
    if not trusted:
        raise refuse_untrusted(f"This model is stored as {fmt} ({path.name})")
    with path.open("rb") as handle, invalid_if_corrupt(path):
        if fmt == "cloudpickle":
            return cloudpickle.load(handle)
        return pickle.load(handle)


def skops_untrusted(path: Path) -> list[str]:
    """The types in a skops file that are neither skops' defaults nor on Shipyard's allowlist."""
    return [name for name in skops_io().get_untrusted_types(file=path) if not _allowed(name)]


def load_skops(path: Path, trusted: bool, hint: Sequence[str] = ()) -> Any:
    """Load a skops file: allowlisted types always, anything else only when trusted.

    ``hint`` (the MLmodel's ``skops_trusted_types``) saves a second pass over a big file: its
    allowlisted names (all of them, when trusted) are offered to skops, which still checks every
    type in the file against them; only if that fails is the file listed to say exactly why.
    """
    skops = skops_io()
    from skops.io.exceptions import UntrustedTypesFoundException

    offered = [name for name in hint if trusted or _allowed(name)]
    with invalid_if_corrupt(path):
        try:
            return skops.load(path, trusted=offered)
        except UntrustedTypesFoundException:
            listed = skops.get_untrusted_types(file=path)
    refused = [name for name in listed if not _allowed(name)]
    if refused and not trusted:
        shown = ", ".join(refused[:10]) + (" ..." if len(refused) > 10 else "")
        raise UntrustedModel(
            f"The skops file {path.name} holds types outside Shipyard's allowlist of "
            f"scikit-learn, NumPy and SciPy types: {shown}. Rebuilding them can run their code. "
            f"{_TRUST_HOW}"
        )
    with invalid_if_corrupt(path):
        return skops.load(path, trusted=listed)


@contextlib.contextmanager
def invalid_if_corrupt(
    path: Path, errors: tuple[type[BaseException], ...] = _CORRUPT
) -> Iterator[None]:
    """A truncated or corrupt file is an ``InvalidModel`` naming it, not a bare EOFError (or a
    framework's own error: flavors pass theirs as ``errors``)."""
    try:
        yield
    except errors as exc:
        detail = str(exc) or type(exc).__name__
        raise InvalidModel(
            f"The model file {path.name} is corrupt or truncated ({detail}); "
            "download or save the model again"
        ) from None


def _allowed(name: str) -> bool:
    """A class from the libraries (not their file modules), a ufunc, or a metric function."""
    if not _DOTTED.match(name) or name.split(".")[0] not in _LIBRARIES:
        return False
    module_name, _, attribute = name.rpartition(".")
    if module_name.startswith(_FILE_MODULES) or attribute.startswith("__"):
        return False
    try:  # importing a module of an installed library is safe; the name came from the file
        obj = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError):
        return False
    if isinstance(obj, type | np.ufunc):
        return True
    return callable(obj) and module_name.startswith(_FUNCTION_MODULES)
