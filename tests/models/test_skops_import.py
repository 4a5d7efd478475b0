"""skops.io is imported on first use, without torch, and trusts the same types as a plain import."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

_GUARDED = """
import json, sys
import shipyard.pyfunc, shipyard.sklearn
before = sorted(m for m in ("skops.io", "torch") if m in sys.modules)
from shipyard.models._skops import skops_io
skops_io()
from skops.io._trusted_types import SKLEARN_ESTIMATOR_TYPE_NAMES
after = "torch" in sys.modules
import torch  # still importable afterwards, and scikit-learn's torch support still works
import sklearn
from sklearn.utils._array_api import get_namespace
with sklearn.config_context(array_api_dispatch=True):
    namespace = get_namespace(torch.asarray([1.0]))[0].__name__
print(json.dumps([before, after, sorted(SKLEARN_ESTIMATOR_TYPE_NAMES), namespace]))
"""
_PLAIN = """
import json
from skops.io._trusted_types import SKLEARN_ESTIMATOR_TYPE_NAMES
print(json.dumps(sorted(SKLEARN_ESTIMATOR_TYPE_NAMES)))
"""


def _run(code: str) -> object:
    env = {**os.environ, "SCIPY_ARRAY_API": "1"}  # scikit-learn's torch support needs it
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
def test_skops_is_imported_lazily_and_without_torch() -> None:
    before, torch_after_skops, guarded_names, namespace = _run(_GUARDED)  # type: ignore[misc]
    assert before == []  # importing Shipyard's model modules imports neither
    assert torch_after_skops is False
    assert namespace.endswith("torch")
    assert guarded_names == _run(_PLAIN)  # the same trusted estimators as an unguarded import
    assert len(guarded_names) > 100
