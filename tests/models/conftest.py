"""Fixtures of the model tests: ``flavor`` runs a test once per flavor case."""

from __future__ import annotations

from pathlib import Path

import pytest
from _flavor_cases import FLAVORS, FlavorCase, make_case


@pytest.fixture(params=FLAVORS)
def flavor(request: pytest.FixtureRequest, tmp_path: Path) -> FlavorCase:
    return make_case(request.param, tmp_path)
