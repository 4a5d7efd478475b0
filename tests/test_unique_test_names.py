"""Test folders have no ``__init__.py``, so two test modules with one basename cannot both be
collected ("import file mismatch"): keep them unique across folders."""

from __future__ import annotations

from collections import Counter
from pathlib import Path


def test_test_module_names_are_unique() -> None:
    names = Counter(p.name for p in Path(__file__).parent.rglob("test_*.py"))
    assert [name for name, count in names.items() if count > 1] == []
