from __future__ import annotations

from collections.abc import Iterator

import pytest

from shipyard.cli import _common


@pytest.fixture(autouse=True)
def wide_console() -> Iterator[None]:
    """Tables at full width, so assertions see whole ids rather than a terminal's wrapping."""
    before = _common.console.width
    _common.console.width = 300
    yield
    _common.console.width = before
