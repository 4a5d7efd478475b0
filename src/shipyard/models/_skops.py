"""``skops.io``, imported on first use and without pulling in torch.

Importing ``skops.io`` builds its default trusted-type list with scikit-learn's
``all_estimators()``, which walks every package under ``sklearn`` with ``pkgutil.walk_packages``.
The walk has to import each *package* to list its modules (documented ``pkgutil`` behaviour), and
``sklearn.externals.array_api_compat.torch`` is a package whose ``__init__`` imports torch. So
whenever torch is installed, loading any skops model imports torch: 1-2 s and a few hundred MB
for a scikit-learn model that never touches it. ``all_estimators`` drops everything under
``externals`` afterwards, and a package that fails to import is skipped by the walk, so the list
is the same without torch.

While this module imports skops, a ``sys.meta_path`` finder answers "not installed" for ``torch``,
only in the importing thread and only if torch is not imported yet; no scikit-learn or skops object
is changed. Once the import is done the finder is gone, so a model (or anything else) that needs
torch imports it as usual.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import threading
from collections.abc import Sequence
from types import ModuleType

__all__ = ["skops_io"]

_LOCK = threading.Lock()


class _TorchAbsentInThisThread(importlib.abc.MetaPathFinder):
    def __init__(self) -> None:
        self.thread = threading.get_ident()

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname.partition(".")[0] == "torch" and threading.get_ident() == self.thread:
            raise ModuleNotFoundError(
                "torch is not imported while skops lists its types", name=fullname
            )
        return None


def skops_io() -> ModuleType:
    """The ``skops.io`` module (imported now if it is not yet)."""
    with _LOCK:
        if "skops.io" not in sys.modules and "torch" not in sys.modules:
            guard = _TorchAbsentInThisThread()
            sys.meta_path.insert(0, guard)
            try:
                import skops.io
            finally:
                sys.meta_path.remove(guard)
    import skops.io

    module: ModuleType = skops.io
    return module
