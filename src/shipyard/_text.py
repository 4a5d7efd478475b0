"""Small text checks shared by every layer."""

from __future__ import annotations

__all__ = ["is_decimal"]


def is_decimal(text: str) -> bool:
    """ASCII digits only, so that ``int(text)`` will take it: ``str.isdigit`` is also true for
    ``"²"``, which ``int`` refuses, and ``int`` takes digits of other scripts."""
    return text.isascii() and text.isdigit()
