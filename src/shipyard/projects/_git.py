"""Git: where a project's code came from, the patch of what was not committed, cloning a project
from a URL, and checking a recorded commit (and patch) out into a clean folder."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from shipyard.errors import InvalidParameter

__all__ = ["GitSource", "checkout", "clone", "describe_source", "is_git_url", "split_git_url"]

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

    @property
    def dirty(self) -> bool:
        return bool(self.patch)


def _untracked_patch(root: Path, skip: set[str]) -> bytes:
    listed = _git(["ls-files", "--others", "--exclude-standard", "-z"], root).split(b"\0")
    parts = []
    for raw in listed:
        name = raw.decode()
        if name and name not in skip:
            args = ["diff", "--binary", "--no-index", "--", "/dev/null", name]
            parts.append(_git(args, root, ok=(0, 1)))
    return b"".join(parts)


def describe_source(folder: Path, data_paths: list[Path]) -> GitSource | None:
    """The git state of ``folder``, or None outside a repository (or without git).

    Untracked files join the patch (a clean checkout would lack them), except declared data
    files: those are checked by digest rather than copied into a patch.
    """
    try:
        root = Path(_text(["rev-parse", "--show-toplevel"], folder)).resolve()
        commit = _text(["rev-parse", "HEAD"], folder)
    except InvalidParameter:
        return None
    absolute = [p.absolute() for p in data_paths]
    skip = {str(p.relative_to(root)) for p in absolute if p.is_relative_to(root)}
    patch = _git(["diff", "HEAD", "--binary"], root) + _untracked_patch(root, skip)
    try:
        remote: str | None = _text(["config", "--get", "remote.origin.url"], root) or None
    except InvalidParameter:
        remote = None
    tracked = frozenset(_git(["ls-files", "-z"], root).decode().split("\0")) - {""}
    subdir = str(folder.resolve().relative_to(root)).removeprefix(".")
    return GitSource(root, commit, subdir, remote, patch, tracked)


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
