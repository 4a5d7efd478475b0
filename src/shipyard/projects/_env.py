"""Environments: a virtualenv per exact requirement set, built once and reused from a cache.

A ``python_env`` becomes a virtualenv under the cache folder, named by a hash of what defines it
(Python version, the exact requirement lines, whether it sees the running Python's packages), so
a second run with the same requirements starts in the time it takes to read one JSON file. It is
built with ``uv`` when ``uv`` is on PATH, else with ``venv`` and ``pip``. Its lock (``pip freeze``:
every distribution the command can import, with its exact version) is recorded on the run;
``shipyard reproduce`` rebuilds from that lock and compares the lock of what it built.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shipyard.errors import EnvBuildFailed, InvalidParameter, MissingDependency
from shipyard.projects._spec import PythonEnv

__all__ = [
    "BuiltEnv",
    "EnvBuildFailed",
    "LockChange",
    "build_virtualenv",
    "diff_locks",
    "freeze",
    "local_env",
    "requirement_lines",
]

_MARKER = ".shipyard-env.json"
_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")

Log = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class BuiltEnv:
    """An environment ready to run a command in."""

    manager: str  # "local" | "virtualenv"
    python: str  # its interpreter
    lock: str  # `pip freeze`: everything importable, exact versions
    installed: list[str] = field(default_factory=list)  # what was installed into it (pinned)
    root: str | None = None  # the virtualenv's folder
    spec: dict[str, Any] = field(default_factory=dict)  # what defines it (hashed for the cache)
    reused: bool = False

    def child_env(self, base: dict[str, str]) -> dict[str, str]:
        """``base`` with this environment first on PATH: the command's ``python`` is its own
        (for ``local``, the Python running Shipyard, activated or not)."""
        bin_dir = str(Path(self.python).parent)
        env = dict(base)
        env["PATH"] = os.pathsep.join([bin_dir, base.get("PATH", "")])
        if self.root is not None:
            env.pop("PYTHONHOME", None)
            env.pop("PYTHONPATH", None)
            env["VIRTUAL_ENV"] = self.root
        return env

    def to_dict(self) -> dict[str, Any]:
        return {"manager": self.manager, "installed": self.installed, "spec": self.spec}


def _run(cmd: list[str], what: str, env: dict[str, str] | None = None) -> str:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    except OSError as exc:
        raise EnvBuildFailed(f"{what}: could not run {cmd[0]}: {exc}") from None
    if done.returncode != 0:
        lines = [ln for ln in (done.stderr or done.stdout).strip().splitlines() if ln.strip()]
        reason = next((ln for ln in lines if "ERROR" in ln or "error" in ln), None)
        reason = reason or (lines[-1] if lines else f"exit code {done.returncode}")
        raise EnvBuildFailed(f"{what} failed: {reason.strip()}")
    return done.stdout


def requirement_lines(env: PythonEnv, folder: Path) -> list[str]:
    """The exact lines to install: a lock file if declared, else build deps, list and file.

    ``-r file`` lines (MLflow's python_env.yaml uses them) are read in, so the cache key covers
    what the files say, not their names.
    """
    if env.lock:
        return _read_requirements(folder / env.lock)
    lines = list(env.build_dependencies)
    for dep in env.dependencies:
        if dep.startswith(("-r ", "--requirement ")):
            lines += _read_requirements(folder / dep.split(maxsplit=1)[1])
        else:
            lines.append(dep)
    if env.requirements:
        lines += _read_requirements(folder / env.requirements)
    return [ln.strip() for ln in lines if ln.strip()]


def _read_requirements(path: Path) -> list[str]:
    if not path.is_file():
        raise InvalidParameter(f"Requirements file '{path.name}' does not exist in {path.parent}.")
    lines = []
    for line in path.read_text().splitlines():
        line = line.split(" #")[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("-r ", "--requirement ")):
            lines += _read_requirements(path.parent / line.split(maxsplit=1)[1])
        else:
            lines.append(line)
    return lines


def _pip(python: str) -> list[str]:
    """pip run by the Python running Shipyard against ``python``: a virtualenv without pip of
    its own works, and nothing is installed to get pip."""
    return [sys.executable, "-m", "pip", "--python", python, "--disable-pip-version-check"]


def freeze(python: str, local_only: bool = False) -> str:
    """``pip freeze`` of an interpreter (``local_only``: what is installed in its own prefix)."""
    if shutil.which("uv") and not _has_pip():
        return _run(["uv", "pip", "freeze", "--python", python], "uv pip freeze")
    extra = ["--local"] if local_only else []
    return _run([*_pip(python), "freeze", *extra], "pip freeze")


def _has_pip() -> bool:
    try:
        import pip  # noqa: F401
    except ImportError:
        return False
    return True


_LOCAL_FREEZE: dict[tuple[tuple[str, int], ...], str] = {}


def _package_dirs_state() -> tuple[tuple[str, int], ...]:
    """The modification times of this Python's import folders: installing, upgrading or
    removing a distribution adds or removes an entry in one of them, which changes its time."""
    state = []
    for entry in sys.path:
        with contextlib.suppress(OSError):
            if entry and Path(entry).is_dir():
                state.append((entry, Path(entry).stat().st_mtime_ns))
    return tuple(state)


def local_env() -> BuiltEnv:
    """The Python running Shipyard, as it is (``--env-manager local``).

    Its freeze is kept for this process while no import folder changed, so a loop of local
    runs (or a run and its reproduction) does not pay for ``pip freeze`` each time.
    """
    key = _package_dirs_state()
    if key not in _LOCAL_FREEZE:
        _LOCAL_FREEZE.clear()
        _LOCAL_FREEZE[key] = freeze(sys.executable)
    return BuiltEnv("local", sys.executable, _LOCAL_FREEZE[key], spec={"manager": "local"})


def _base_python(version: str | None) -> str:
    current = f"{sys.version_info.major}.{sys.version_info.minor}"
    if not version or version == current or version.startswith(current + "."):
        return sys.executable
    found = shutil.which(f"python{'.'.join(version.split('.')[:2])}")
    if found is None:
        raise MissingDependency(
            f"python_env asks for Python {version}, but Shipyard runs on {current} and no "
            f"python{version} is on PATH (install it, or put uv on PATH to fetch it)."
        )
    return found


def _parent_site_packages() -> list[str]:
    """The running Python's own package folders, when it is a virtualenv (else the base ones
    are reached by --system-site-packages already)."""
    if sys.prefix == sys.base_prefix:
        return []
    paths = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    return sorted(p for p in paths if p and Path(p).is_dir())


def _spec(lines: list[str], python: str | None, system_site: bool) -> dict[str, Any]:
    current = f"{sys.version_info.major}.{sys.version_info.minor}"
    same = not python or python == current or python.startswith(current + ".")
    return {
        "python": python or current,
        "requirements": lines,
        "system_site_packages": system_site,
        # another Python version cannot import this one's compiled packages: base packages only
        "parent": _parent_site_packages() if system_site and same else [],
    }


def _key(spec: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:20]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One builder per environment, even across processes (two CI jobs on one machine)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_virtualenv(
    lines: list[str],
    cache_dir: Path,
    python: str | None = None,
    system_site_packages: bool = False,
    log: Log = print,
) -> BuiltEnv:
    """The virtualenv for exactly these requirement lines: from the cache, or built now."""
    spec = _spec(lines, python, system_site_packages)
    root = cache_dir / _key(spec)
    with _locked(cache_dir / f"{root.name}.lock"):
        marker = root / _MARKER
        if marker.is_file():
            saved = json.loads(marker.read_text())
            log(f"reusing environment {root}")
            return BuiltEnv(
                "virtualenv",
                saved["python"],
                saved["lock"],
                saved["installed"],
                str(root),
                spec,
                True,
            )
        if root.exists():  # an earlier build stopped half-way
            shutil.rmtree(root)
        log(f"building environment {root} ({len(lines)} requirements)")
        try:
            built = _build(root, lines, spec, python)
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        marker.write_text(
            json.dumps({**built.to_dict(), "python": built.python, "lock": built.lock})
        )
        return built


def _build(root: Path, lines: list[str], spec: dict[str, Any], python: str | None) -> BuiltEnv:
    system_site = bool(spec["system_site_packages"])
    uv = shutil.which("uv")
    flags = ["--system-site-packages"] if system_site else []
    if uv:
        _run(
            [uv, "venv", "--quiet", "--python", python or sys.executable, *flags, str(root)],
            "uv venv",
        )
    else:
        _run([_base_python(python), "-m", "venv", "--without-pip", *flags, str(root)], "venv")
    interpreter = str(root / "bin" / "python")
    if spec["parent"]:
        _link_parent(interpreter, spec["parent"])
    if lines:
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as req:
            req.write("\n".join(lines) + "\n")
        try:
            if uv:
                cmd = [uv, "pip", "install", "--quiet", "--python", interpreter, "-r", req.name]
            else:
                cmd = [*_pip(interpreter), "install", "--quiet", "-r", req.name]
            _run(cmd, "installing the requirements")
        finally:
            os.unlink(req.name)
    installed = [ln for ln in freeze(interpreter, local_only=True).splitlines() if ln.strip()]
    return BuiltEnv("virtualenv", interpreter, freeze(interpreter), installed, str(root), spec)


def _link_parent(interpreter: str, parent: list[str]) -> None:
    """Make the running virtualenv's packages visible (after the environment's own)."""
    code = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site_packages = Path(_run([interpreter, "-c", code], "reading the environment").strip())
    calls = "; ".join(f"site.addsitedir({p!r})" for p in parent)
    (site_packages / "_shipyard_parent.pth").write_text(f"import site; {calls}\n")


@dataclass(frozen=True, slots=True)
class LockChange:
    name: str
    recorded: str | None
    now: str | None

    def __str__(self) -> str:
        return f"{self.name} {self.recorded or '(absent)'} -> {self.now or '(absent)'}"


def _parse_lock(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-e "):
            out[line] = "editable"
            continue
        if "==" in line:
            name, version = line.split("==", 1)
        elif " @ " in line:
            name, version = line.split(" @ ", 1)
        else:
            name, version = line, ""
        match = _NAME.match(name.strip())
        key = re.sub(r"[-_.]+", "-", match.group(1)).lower() if match else name
        out[key] = version.strip()
    return out


def diff_locks(recorded: str, now: str) -> list[LockChange]:
    """Every distribution whose version differs between two ``pip freeze`` outputs."""
    old, new = _parse_lock(recorded), _parse_lock(now)
    return [
        LockChange(name, old.get(name), new.get(name))
        for name in sorted(old.keys() | new.keys())
        if old.get(name) != new.get(name)
    ]
