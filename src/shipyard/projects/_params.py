"""Parameters: ``-P key=value`` strings checked against the entry point's declared types, and the
command line they fill in.

Every problem is found before anything runs, and reported together: unknown names, missing
values, values of the wrong type or outside their range. Relative ``path`` and ``uri`` values are
relative to the project folder (where the command runs), so a recorded run re-runs the same way
from a fresh checkout.
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Mapping
from urllib.parse import urlparse

from shipyard.errors import InvalidParameter
from shipyard.projects._spec import EntryPoint, Parameter

__all__ = ["format_command", "parse_assignments", "resolve_params"]

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][\w\-]*)\}")


def parse_assignments(pairs: list[str]) -> dict[str, str]:
    """``["alpha=0.1", "data=x.csv"]`` -> ``{"alpha": "0.1", "data": "x.csv"}``."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidParameter(f"Parameter '{pair}' is not in the form key=value.")
        out[key.strip()] = value
    return out


def _check_number(name: str, spec: Parameter, number: float) -> str | None:
    if spec.min is not None and number < spec.min:
        return f"'{name}' must be >= {spec.min:g}, got {number:g}"
    if spec.max is not None and number > spec.max:
        return f"'{name}' must be <= {spec.max:g}, got {number:g}"
    return None


def _typed(name: str, spec: Parameter, value: str) -> tuple[str, str | None]:
    """(normalised value, problem or None)."""
    if spec.type == "int":
        try:
            number = int(value.strip())
        except ValueError:
            return value, f"'{name}' must be an int, got {value!r}"
        return str(number), _check_number(name, spec, number)
    if spec.type == "float":
        try:
            real = float(value.strip())
        except ValueError:
            return value, f"'{name}' must be a float, got {value!r}"
        if not math.isfinite(real):
            return value, f"'{name}' must be a finite float, got {value!r}"
        return value.strip(), _check_number(name, spec, real)
    if spec.type in ("path", "uri") and not value.strip():
        return value, f"'{name}' must be a non-empty {spec.type}"
    if spec.type == "uri":
        try:
            urlparse(value)
        except ValueError as exc:
            return value, f"'{name}' is not a valid uri ({exc})"
    return value, None


def _choice(name: str, spec: Parameter, value: str) -> str | None:
    if spec.choices is None:
        return None
    allowed = [str(c) for c in spec.choices]
    if value in allowed:
        return None
    return f"'{name}' must be one of {', '.join(allowed)}, got {value!r}"


def resolve_params(entry: EntryPoint, given: Mapping[str, str], entry_name: str) -> dict[str, str]:
    """Declared parameters filled from ``given`` or their defaults, checked and normalised."""
    problems: list[str] = []
    unknown = sorted(set(given) - set(entry.parameters))
    if unknown:
        declared = ", ".join(sorted(entry.parameters)) or "none"
        problems.append(f"unknown {', '.join(repr(u) for u in unknown)} (declared: {declared})")
    resolved: dict[str, str] = {}
    for name, spec in entry.parameters.items():
        raw = given.get(name)
        if raw is None and spec.default is None:
            problems.append(f"'{name}' ({spec.type}) has no default and was not given")
            continue
        value, problem = _typed(name, spec, str(raw if raw is not None else spec.default))
        problem = problem or _choice(name, spec, value)
        if problem:
            problems.append(problem)
        resolved[name] = value
    if problems:
        raise InvalidParameter(
            f"Bad parameters for entry point '{entry_name}': " + "; ".join(problems)
        )
    return resolved


def format_command(entry: EntryPoint, params: Mapping[str, str]) -> str:
    """The entry point's command with ``{name}`` filled in (shell-quoted); other braces stay."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        return shlex.quote(params[name]) if name in params else match.group(0)

    return _PLACEHOLDER.sub(fill, entry.command)
