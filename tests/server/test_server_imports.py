"""The tracking server stays light: its idle memory is part of issue 3's budget (< 200 MB while
moving a 1 GB file), so heavy libraries load only in the routes that need them."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("sklearn", "scipy", "pandas", "torch", "pyarrow", "matplotlib")


def test_starting_the_server_app_loads_no_ml_library() -> None:
    code = (
        "import sys, shipyard.server._run as r; "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
