"""``conda_env`` projects: an environment per exact ``conda.yaml``, built once and reused.

The environment is created with the first of ``micromamba``, ``mamba`` or ``conda`` found on
PATH, in a prefix under the cache folder named by a hash of the file's content and the tool, so
a second run with the same file starts at once. Conda prefixes hold absolute paths, so the build
happens in place; an interrupted build leaves no marker and is removed by the next one. The lock
recorded on the run is ``pip freeze`` inside the environment (what ``reproduce`` compares), or
the tool's own ``list --explicit`` when the environment has no pip.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from shipyard.errors import InvalidParameter, MissingDependency
from shipyard.projects._env import BuiltEnv, EnvBuildFailed, Log, _locked, _run, freeze
from shipyard.projects._spec import CondaEnv

__all__ = ["CONDA_TOOLS", "build_conda_env", "conda_tool"]

CONDA_TOOLS = ("micromamba", "mamba", "conda")
_MARKER = ".shipyard-env.json"


def conda_tool() -> str:
    """The conda-compatible tool on PATH; a clear error when there is none."""
    for name in CONDA_TOOLS:
        found = shutil.which(name)
        if found:
            return found
    raise MissingDependency(
        "This project declares a conda_env, and none of micromamba, mamba or conda is on PATH. "
        "Install one (micromamba is a single binary), or run in the current Python with "
        "--env-manager local."
    )


def _create_command(tool: str, prefix: Path, file: Path) -> list[str]:
    if Path(tool).name == "conda":
        return [tool, "env", "create", "--yes", "-p", str(prefix), "-f", str(file)]
    return [tool, "create", "--yes", "-p", str(prefix), "-f", str(file)]


def _lock(tool: str, prefix: Path, python: Path) -> str:
    try:
        return freeze(str(python))
    except EnvBuildFailed:  # no pip in the environment: the tool's own exact list
        return _run([tool, "list", "-p", str(prefix), "--explicit"], "listing the environment")


def build_conda_env(env: CondaEnv, folder: Path, cache_dir: Path, log: Log = print) -> BuiltEnv:
    """The conda environment for exactly this ``conda.yaml``: from the cache, or built now."""
    file = folder / env.file
    if not file.is_file():
        raise InvalidParameter(f"conda_env file '{env.file}' does not exist in {folder}.")
    tool = conda_tool()
    content = file.read_bytes()
    spec = {
        "manager": "conda",
        "tool": Path(tool).name,
        "file": env.file,
        "file_sha256": hashlib.sha256(content).hexdigest(),
    }
    key = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:20]
    prefix = cache_dir / f"conda-{key}"
    with _locked(cache_dir / f"{prefix.name}.lock"):
        marker = prefix / _MARKER
        if marker.is_file():
            saved = json.loads(marker.read_text())
            log(f"reusing environment {prefix}")
            return BuiltEnv("conda", saved["python"], saved["lock"], [], str(prefix), spec, True)
        if prefix.exists():  # an earlier build stopped half-way
            shutil.rmtree(prefix)
        log(f"building conda environment {prefix} with {Path(tool).name}")
        try:
            _run(_create_command(tool, prefix, file), f"{Path(tool).name} create")
            python = prefix / "bin" / "python"
            if not python.exists():
                raise EnvBuildFailed(
                    f"{Path(tool).name} built {prefix} without a Python: add python to the "
                    f"dependencies of {env.file}"
                )
            lock = _lock(tool, prefix, python)
        except BaseException:
            shutil.rmtree(prefix, ignore_errors=True)
            raise
        marker.write_text(json.dumps({"python": str(python), "lock": lock, "spec": spec}))
        return BuiltEnv("conda", str(python), lock, [], str(prefix), spec)
