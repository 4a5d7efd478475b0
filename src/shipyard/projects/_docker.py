"""``docker_env``: the ``docker run`` command a project's entry point runs in, and whether a
Docker engine answers to run it."""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Mapping
from pathlib import Path

from shipyard.projects._spec import DockerEnv

__all__ = ["WORKDIR", "docker_available", "docker_command", "image_id", "render"]

WORKDIR = "/shipyard/project"
_PASSED = (
    "SHIPYARD_TRACKING_URI",
    "SHIPYARD_RUN_ID",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_RUN_ID",
    "MLFLOW_EXPERIMENT_ID",
)


def docker_available() -> tuple[bool, str]:
    """(True, "") when ``docker info`` answers, else (False, why not)."""
    try:
        done = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except FileNotFoundError:
        return False, "the docker command is not installed"
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"docker info did not answer ({exc})"
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        return False, lines[-1] if lines else f"docker info exited with {done.returncode}"
    return True, ""


def image_id(image: str) -> str | None:
    """The local image's content id (``sha256:...``), or None when it cannot be read."""
    try:
        done = subprocess.run(
            ["docker", "image", "inspect", "--format", "{{.Id}}", image],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (done.stdout.strip() or None) if done.returncode == 0 else None


def docker_command(
    env: DockerEnv,
    folder: Path,
    command: str,
    child_env: Mapping[str, str],
    local_store: Path | None,
) -> list[str]:
    """``docker run``: the project folder mounted as the working directory, the run handed in
    by environment variables, a local tracking folder mounted at its own path."""
    cmd = ["docker", "run", "--rm", "--network", "host", "-v", f"{folder}:{WORKDIR}", "-w", WORKDIR]
    if local_store is not None:
        cmd += ["-v", f"{local_store}:{local_store}"]
    for volume in env.volumes:
        cmd += ["-v", volume]
    for name in _PASSED:
        if name in child_env:
            cmd += ["-e", f"{name}={child_env[name]}"]
    for item in env.environment:
        if isinstance(item, list):
            cmd += ["-e", f"{item[0]}={item[1]}" if len(item) > 1 else item[0]]
        else:
            cmd += ["-e", item]  # a name alone: docker copies the value from this environment
    return [*cmd, env.image, "sh", "-c", command]


def render(cmd: list[str]) -> str:
    return shlex.join(cmd)
