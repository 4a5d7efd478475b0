#!/usr/bin/env python3
"""The two commands of the quick start, on a fresh machine with only Python 3.11 and pip.

    python3 dev.py quickstart   # set up .venv, start the server on ./shipyard-data with an example
    python3 dev.py test         # set up .venv with the test tools, run lint, types and every test

Both create ``.venv`` on first use and reinstall only when ``pyproject.toml`` changes.
Extra arguments go to the underlying command (``python3 dev.py test -k search``).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"


def _run(*cmd: str | Path) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], cwd=ROOT, check=True)


def ensure_venv(extra: str) -> None:
    stamp = VENV / f".installed-{extra}"
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == want:
        return
    if not PY.exists():
        print(f"Creating {VENV} ...", flush=True)
        venv.create(VENV, with_pip=True)
    _run(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    _run(PY, "-m", "pip", "install", "--quiet", "-e", f".[{extra}]")
    stamp.write_text(want)


def quickstart(args: list[str]) -> int:
    ensure_venv("postgres")
    return subprocess.call([str(BIN / "shipyard"), "quickstart", *args], cwd=ROOT)


def test(args: list[str]) -> int:
    ensure_venv("dev")
    steps = [
        [str(BIN / "ruff"), "check", "src", "tests", "benchmarks"],
        [str(BIN / "ruff"), "format", "--check", "src", "tests", "benchmarks"],
        [str(BIN / "mypy")],
        [str(PY), "-m", "pytest", *args],
    ]
    for step in steps:
        print("+", " ".join(step), flush=True)
        code = subprocess.call(step, cwd=ROOT)
        if code != 0:
            return code
    return 0


def main() -> int:
    commands = {"quickstart": quickstart, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__)
        return 2
    return commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
