"""``requirements.txt``, ``python_env.yaml`` and ``conda.yaml``: what the model really imports.

The model object is walked (its classes, attributes, containers, and for user code the globals its
functions reference) to collect the top-level modules it needs; each module is mapped to the
installed distribution that provides it and pinned to the installed version. The standard library
is left out; so are a library's own dependencies, which pip resolves from the pinned library.
Modules that no installed distribution provides (a script's own code) are returned separately so
the caller can warn that they must be importable wherever the model is loaded.
"""

from __future__ import annotations

import functools
import importlib.metadata
import platform
import sys
import types
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "CONDA_FILE",
    "PYTHON_ENV_FILE",
    "REQUIREMENTS_FILE",
    "imported_modules",
    "pin_requirements",
    "read_requirements",
    "write_environment",
]

REQUIREMENTS_FILE = "requirements.txt"
PYTHON_ENV_FILE = "python_env.yaml"
CONDA_FILE = "conda.yaml"
_WALK_LIMIT = 200_000  # objects visited; a fitted forest has ~10 per tree
_OWN = {"shipyard": "shipyard-ml"}  # editable installs do not map their top-level module
_LEAVES = (str, bytes, int, float, complex, bool, type(None), range, memoryview)


@functools.cache
def _distributions() -> dict[str, list[str]]:
    return dict(importlib.metadata.packages_distributions())


def distribution_of(module: str) -> str | None:
    """The installed distribution that provides top-level ``module`` (``sklearn`` -> ...)."""
    if module in _OWN:
        return _OWN[module]
    found = _distributions().get(module)
    return found[0] if found else None


def _is_user_code(module: str) -> bool:
    top = module.split(".")[0]
    return top == "__main__" or (
        top not in sys.stdlib_module_names and distribution_of(top) is None
    )


def imported_modules(*objects: Any) -> set[str]:
    """Top-level module names (no standard library) that ``objects`` need to be rebuilt."""
    found: set[str] = set()
    for module in _walk(objects, _is_user_code):
        top = module.split(".")[0]
        if top and top != "builtins" and top not in sys.stdlib_module_names:
            found.add(top)
    return found


def _walk(roots: Iterable[Any], look_inside: Callable[[str], bool]) -> Iterator[str]:
    """Modules of every object reachable from ``roots``; library internals are not entered."""
    stack, seen = list(roots), set[int]()
    while stack and len(seen) < _WALK_LIMIT:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, _LEAVES):
            continue
        seen.add(id(obj))
        if isinstance(obj, types.ModuleType):
            yield obj.__name__
            continue
        owner = obj if _is_code(obj) else type(obj)
        module = getattr(owner, "__module__", None)
        if not isinstance(module, str):
            stack.extend(_children(obj, False))
            continue
        by_value = _pickled_by_value(owner, module)
        if not by_value:
            yield module
        stack.extend(_children(obj, by_value or look_inside(module)))


def _is_code(obj: Any) -> bool:
    return isinstance(obj, type | types.FunctionType | types.BuiltinFunctionType)


def _pickled_by_value(owner: Any, module: str) -> bool:
    """Classes and functions of ``__main__`` or defined inside a function travel inside the
    pickle (cloudpickle stores them by value): their module is not needed where it loads."""
    return module == "__main__" or "<locals>" in str(getattr(owner, "__qualname__", ""))


def _children(obj: Any, user_code: bool) -> list[Any]:
    if isinstance(obj, list | tuple | set | frozenset):
        return list(obj)
    if isinstance(obj, dict):
        return [*obj.keys(), *obj.values()]
    if isinstance(obj, types.FunctionType):
        return _function_references(obj) if user_code else []
    if isinstance(obj, type):
        return [*vars(obj).values(), *obj.__bases__] if user_code else []
    children: list[Any] = [type(obj)]
    state = getattr(obj, "__dict__", None)
    if isinstance(state, dict) and _is_plain_state(obj):
        children.extend(state.values())
    return children


def _is_plain_state(obj: Any) -> bool:
    """Objects whose attributes are worth entering (not arrays, frames, modules or classes)."""
    return not type(obj).__module__.startswith(("numpy", "pandas", "scipy", "pyarrow"))


def _function_references(fn: types.FunctionType) -> list[Any]:
    """What a user function uses: the globals its code names, closure cells and defaults."""
    names: set[str] = set()
    codes = [fn.__code__]
    while codes:
        code = codes.pop()
        names.update(code.co_names)
        codes.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    referenced = [fn.__globals__[n] for n in names if n in fn.__globals__]
    cells = [cell.cell_contents for cell in fn.__closure__ or () if _has_contents(cell)]
    return [*referenced, *cells, *(fn.__defaults__ or ())]


def _has_contents(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - an empty cell raises ValueError
    except ValueError:
        return False
    return True


def pin_requirements(modules: Iterable[str]) -> tuple[list[str], list[str]]:
    """(sorted ``name==version`` lines, modules no installed distribution provides)."""
    pinned: dict[str, str] = {}
    unknown: list[str] = []
    for module in sorted(set(modules)):
        if module in sys.stdlib_module_names or module in ("builtins", "__main__"):
            continue
        dist = distribution_of(module)
        if dist is None:
            unknown.append(module)
            continue
        pinned[dist.lower()] = f"{dist}=={_installed_version(dist)}"
    return [pinned[k] for k in sorted(pinned)], unknown


def _installed_version(dist: str) -> str:
    # A local version label (2.3.0+cpu) names a build no public index has: pin the release.
    return importlib.metadata.version(dist).split("+")[0]


def write_environment(folder: str | Path, requirements: list[str]) -> dict[str, str]:
    """Write the three environment files; returns the pyfunc ``env`` entry naming them."""
    root = Path(folder)
    (root / REQUIREMENTS_FILE).write_text("".join(f"{line}\n" for line in requirements))
    python = platform.python_version()
    pip_version = _maybe_version("pip")
    python_env = {
        "python": python,
        "build_dependencies": [
            f"pip=={pip_version}" if pip_version else "pip",
            f"setuptools=={v}" if (v := _maybe_version("setuptools")) else "setuptools",
            "wheel",
        ],
        "dependencies": [f"-r {REQUIREMENTS_FILE}"],
    }
    conda = {
        "channels": ["conda-forge"],
        "dependencies": [
            f"python={python}",
            f"pip<={pip_version}" if pip_version else "pip",
            {"pip": requirements},
        ],
        "name": "shipyard-env",
    }
    (root / PYTHON_ENV_FILE).write_text(yaml.safe_dump(python_env, sort_keys=False))
    (root / CONDA_FILE).write_text(yaml.safe_dump(conda, sort_keys=False))
    return {"conda": CONDA_FILE, "virtualenv": PYTHON_ENV_FILE}


def _maybe_version(dist: str) -> str | None:
    try:
        return _installed_version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def read_requirements(folder: str | Path) -> list[str]:
    """The package's ``requirements.txt`` lines (no comments or blanks); ``[]`` if absent."""
    path = Path(folder) / REQUIREMENTS_FILE
    if not path.is_file():
        return []
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]
