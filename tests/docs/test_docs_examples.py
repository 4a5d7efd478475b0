"""Every Python example in the docs runs, in a fresh folder, and prints what the docs say."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def _examples() -> list[tuple[str, str]]:
    found = []
    for page in sorted(DOCS.glob("*.md")):
        for i, code in enumerate(BLOCK.findall(page.read_text())):
            if "http://" not in code:  # examples that need a running server live in tests/compat
                found.append((f"{page.name}#{i}", code))
    return found


@pytest.mark.parametrize(("name", "code"), _examples(), ids=[n for n, _ in _examples()])
def test_doc_example_runs(name: str, code: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith("TRACKING_URI")}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{name} failed:\n{result.stderr}"
    for expected in re.findall(r"print\(.*\)\s+# (.+)", code):
        assert expected.strip() in result.stdout, f"{name}: expected {expected!r}"
