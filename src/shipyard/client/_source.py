"""Where a run came from: recorded as tags on every run the SDK starts.

MLflow's own tag names are used where MLflow has one, so its UI and client read them too.
"""

from __future__ import annotations

import platform
import socket
import subprocess
import sys
from pathlib import Path

__all__ = ["source_tags"]


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _entry_point() -> Path | None:
    main = sys.modules.get("__main__")
    file = getattr(main, "__file__", None)
    if not file or not Path(file).exists():
        return None
    return Path(file).resolve()


def source_tags(user: str) -> dict[str, str]:
    entry = _entry_point()
    tags = {
        "mlflow.user": user,
        "mlflow.source.type": "LOCAL",
        "mlflow.source.name": str(entry) if entry else "<interactive>",
        "shipyard.host": socket.gethostname(),
        "shipyard.python_version": platform.python_version(),
    }
    where = entry.parent if entry else Path.cwd()
    commit = _git(["rev-parse", "HEAD"], where)
    if commit:
        tags["mlflow.source.git.commit"] = commit
        status = _git(["status", "--porcelain", "--untracked-files=no"], where)
        tags["shipyard.source.git.dirty"] = "true" if status else "false"
        remote = _git(["config", "--get", "remote.origin.url"], where)
        if remote:
            tags["mlflow.source.git.repoURL"] = remote
    return tags
