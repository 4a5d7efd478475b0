"""Git: where a project's code came from, the patch of what was not committed, cloning a project
from a URL, and checking a recorded commit (and patch) out into a clean folder."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from shipyard.errors import InvalidParameter

__all__ = ["GitSource", "checkout", "clone", "describe_source", "is_git_url", "split_git_url"]

MAX_UNTRACKED_BYTES = 10 * 1024 * 1024
_URL = re.compile(r"^(https?|ssh|git|file)://|^git@[^:]+:|^git\+")


def _git(args: list[str], cwd: Path | None = None, ok: tuple[int, ...] = (0,)) -> bytes:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    except OSError as exc:
        raise InvalidParameter(f"git is needed here and could not be run: {exc}") from None
    if done.returncode not in ok:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise InvalidParameter(
            f"git {args[0]} failed: {message[-1] if message else done.returncode}"
        )
    return done.stdout


def _text(args: list[str], cwd: Path) -> str:
    return _git(args, cwd).decode().strip()


def is_git_url(uri: str) -> bool:
    return bool(_URL.match(uri)) and not Path(uri).exists()


def split_git_url(uri: str) -> tuple[str, str]:
    """``https://host/repo.git#sub/dir`` -> (``https://host/repo.git``, ``sub/dir``)."""
    url, _, subdir = uri.removeprefix("git+").partition("#")
    return url, subdir.strip("/")


@dataclass(frozen=True, slots=True)
class GitSource:
    """The commit a project ran from, and what differed from it."""

    root: Path
    commit: str
    subdir: str  # the project folder, relative to the repository root
    remote: str | None
    patch: bytes  # tracked changes and untracked files, as `git apply` takes them
    tracked: frozenset[str]  # paths (relative to root) git tracks, to tell data apart
    left_out: tuple[str, ...] = ()  # untracked files too large for the patch

    @property
    def dirty(self) -> bool:
        return bool(self.patch)


def _excluded(name: str, skip: list[str]) -> bool:
    return any(name == s or name.startswith(s.rstrip("/") + "/") for s in skip)


def _untracked_patch(root: Path, subdir: str, skip: list[str]) -> tuple[bytes, list[str]]:
    """Untracked files below the project folder as a patch; (patch, files left out for size)."""
    args = ["ls-files", "--others", "--exclude-standard", "-z", "--", subdir or "."]
    parts, too_big = [], []
    for raw in _git(args, root).split(b"\0"):
        name = raw.decode()
        if not name or _excluded(name, skip):
            continue
        if (root / name).lstat().st_size > MAX_UNTRACKED_BYTES:  # a link: its own size
            too_big.append(name)
            continue
        diff = ["diff", "--binary", "--no-index", "--", "/dev/null", name]
        parts.append(_git(diff, root, ok=(0, 1)))
    return b"".join(parts), too_big


def describe_source(folder: Path, exclude: list[Path]) -> GitSource | None:
    """The git state of ``folder``, or None outside a repository (or without git).

    Untracked files below the project folder join the patch (a clean checkout would lack them),
    except ``exclude`` (declared data, checked by digest instead; a local tracking folder) and
    files over ``MAX_UNTRACKED_BYTES`` (listed in ``left_out``).
    """
    try:
        root = Path(_text(["rev-parse", "--show-toplevel"], folder)).resolve()
        commit = _text(["rev-parse", "HEAD"], folder)
    except InvalidParameter:
        return None
    absolute = [p.absolute() for p in exclude]
    skip = [p.relative_to(root).as_posix() for p in absolute if p.is_relative_to(root)]
    subdir = folder.resolve().relative_to(root).as_posix().removeprefix(".")
    untracked, left_out = _untracked_patch(root, subdir, skip)
    patch = _git(["diff", "HEAD", "--binary"], root) + untracked
    try:
        remote: str | None = _text(["config", "--get", "remote.origin.url"], root) or None
    except InvalidParameter:
        remote = None
    tracked = frozenset(_git(["ls-files", "-z"], root).decode().split("\0")) - {""}
    return GitSource(root, commit, subdir, remote, patch, tracked, tuple(left_out))


def clone(url: str, dest: Path, version: str | None = None) -> Path:
    """Clone a project's repository (``version``: a branch, tag or commit)."""
    _git(["clone", "--quiet", url, str(dest)])
    if version:
        _git(["checkout", "--quiet", version], dest)
    return dest


def checkout(source: str, commit: str, dest: Path, patch: Path | None = None) -> Path:
    """Check ``commit`` of the repository at ``source`` (a path or URL) out into ``dest`` and
    apply the recorded patch of uncommitted changes."""
    _git(["clone", "--quiet", "--no-checkout", source, str(dest)])
    try:
        _git(["checkout", "--quiet", commit], dest)
    except InvalidParameter:
        raise InvalidParameter(
            f"Commit {commit} is not in {source}: was it pushed? (pass --source to clone another)"
        ) from None
    if patch is not None and patch.stat().st_size:
        _git(["apply", "--binary", "--whitespace=nowarn", str(patch)], dest)
    return dest
