"""Artifact paths that cannot leave the root they name.

Every path that reaches a repository comes from a client, so it is checked the same way wherever
it enters (URL path, query string, artifact URI, SDK argument). MLflow's server was broken again
and again by a spelling its check missed (``%252e%252e%252f``, ``\\..\\``, ``;``, ``#``); the
answer here is to decode until nothing changes, reject every dangerous spelling of the *decoded*
text (and of its NFKC form, the way some filesystems and proxies read it), and finally resolve the
joined path, symlinks included, and compare it with the resolved root.
"""

from __future__ import annotations

import os
import re
import stat
import unicodedata
from pathlib import Path
from urllib.parse import unquote

from shipyard.errors import InvalidPath

__all__ = [
    "MAX_PATH_LENGTH",
    "MAX_SEGMENT_BYTES",
    "is_within",
    "normalize_artifact_path",
    "resolve_normalized",
    "resolve_under",
]

MAX_PATH_LENGTH = 4096
MAX_SEGMENT_BYTES = 255
_MAX_UNQUOTE_ROUNDS = 8
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_DRIVE = re.compile(r"^[A-Za-z]:")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:/")
_ONLY_DOTS_AND_SPACES = re.compile(r"^[. ]{2,}$")  # "..", "...", ".. ": parents on some systems
_FORBIDDEN = (
    ("\x00", "it contains a NUL byte"),
    ("#", "it contains '#'"),  # a URL fragment: everything after it vanishes in some parsers
    (";", "it contains ';'"),  # a path parameter: CVE-2024-1593
    ("\\", "it contains a backslash"),  # a separator on Windows: CVE-2023-6977
)


def normalize_artifact_path(path: str) -> str:
    """Return ``path`` decoded and normalised to ``a/b/c`` (``""`` is the root itself).

    Raises ``InvalidPath`` (400, message ``Invalid path ...: <why>``) for anything that is not a
    plain relative path below the root.
    """
    decoded = _unquote_fully(path)
    _check(decoded, path)
    folded = decoded if decoded.isascii() else unicodedata.normalize("NFKC", decoded)
    if folded != decoded:
        _check(_unquote_fully(folded), path)
    segments = [s for s in decoded.split("/") if s not in ("", ".")]
    for segment in segments:
        _check_segment(segment, path)
    return "/".join(segments)


def resolve_under(root: Path, path: str) -> Path:
    """Join a client path to ``root`` and prove, after resolving symlinks, it stays inside.

    ``root`` should already be resolved; the result is the resolved absolute path.
    """
    return resolve_normalized(root, normalize_artifact_path(path), path)


def resolve_normalized(root: Path, relative: str, shown: str | None = None) -> Path:
    """``resolve_under`` for a path ``normalize_artifact_path`` already returned."""
    try:
        resolved = _resolve_below(root, relative) if relative else root
    except (OSError, RuntimeError):  # a symlink loop
        raise _invalid(shown or relative, "it cannot be resolved") from None
    if not is_within(resolved, root):
        raise _invalid(shown or relative, "it resolves outside the artifact root")
    return resolved


def is_within(path: Path, root: Path) -> bool:
    """``path`` is ``root`` or below it (both resolved): compared as text, one string test."""
    inside, top = str(path), str(root)
    return inside == top or inside.startswith(top.rstrip(os.sep) + os.sep)


def _resolve_below(root: Path, relative: str) -> Path:
    """``(root / relative).resolve()`` with fewer system calls: ``root`` is resolved already,
    so only the names below it are checked; any link among them takes the full resolution."""
    current = str(root)
    for part in relative.split("/"):
        current = os.path.join(current, part)
        try:
            mode = os.lstat(current).st_mode
        except (FileNotFoundError, NotADirectoryError):
            break  # nothing below a missing name can be a link
        if stat.S_ISLNK(mode):
            return (root / relative).resolve()
    return root / relative


def _unquote_fully(path: str) -> str:
    """Percent-decode until stable: ``%252e`` -> ``%2e`` -> ``.``."""
    current = path
    for _ in range(_MAX_UNQUOTE_ROUNDS):
        try:
            decoded = unquote(current, errors="strict")
        except UnicodeDecodeError:
            raise _invalid(path, "it is not valid UTF-8") from None
        if decoded == current:
            return current
        current = decoded
    raise _invalid(path, "it is percent-encoded too many times")


def _check(decoded: str, original: str) -> None:
    if len(decoded) > MAX_PATH_LENGTH:
        raise _invalid(original, f"it is longer than {MAX_PATH_LENGTH} characters")
    for token, why in _FORBIDDEN:
        if token in decoded:
            raise _invalid(original, why)
    if _CONTROL.search(decoded):
        raise _invalid(original, "it contains a control character")
    if decoded.startswith("/"):
        raise _invalid(original, "it is absolute")
    if _SCHEME.match(decoded):
        raise _invalid(original, "it is a URI, not a relative path")
    for segment in decoded.split("/"):
        if segment == ".." or _ONLY_DOTS_AND_SPACES.match(segment):
            raise _invalid(original, "it contains '..'")
        if _DRIVE.match(segment):
            raise _invalid(original, "it contains a drive letter")


def _check_segment(segment: str, original: str) -> None:
    if len(segment.encode("utf-8", errors="surrogatepass")) > MAX_SEGMENT_BYTES:
        raise _invalid(original, f"a name is longer than {MAX_SEGMENT_BYTES} bytes")
    if segment.isascii():
        return
    if _SURROGATE.search(segment):
        raise _invalid(original, "it is not valid UTF-8")
    if "/" in unicodedata.normalize("NFKC", segment):  # U+FF0F and kin: "/" once folded
        raise _invalid(original, "it contains a character that folds to '/'")


def _invalid(path: str, why: str) -> InvalidPath:
    shown = path if len(path) <= 200 else path[:200] + "..."
    return InvalidPath(f"Invalid path {shown!r}: {why}")
