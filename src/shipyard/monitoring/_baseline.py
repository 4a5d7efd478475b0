"""The model's own evaluation metrics, read from the run that produced its version, as the
baseline realized metrics are compared with.

A training script logs ``f1`` (or ``test_f1``, ``eval_f1``, ``val_f1``...); the registry knows the
version's run; the metric's latest value in that run is the baseline. Anything missing (no
registry, no run, no such metric) just means no baseline.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from shipyard.monitoring._policy import PERFORMANCE_METRICS

__all__ = ["PREFIXES", "run_baseline"]

PREFIXES = ("", "test_", "eval_", "val_", "validation_")

log = logging.getLogger(__name__)


def run_baseline(client: Any, model: str) -> Callable[[str], dict[str, float] | None]:
    """``version -> {metric: value}`` from ``client`` (a ``shipyard.Client``), cached."""
    cache: dict[str, dict[str, float] | None] = {}

    def baseline(version: str) -> dict[str, float] | None:
        if version not in cache:
            cache[version] = _read(client, model, version)
        return cache[version]

    return baseline


def _read(client: Any, model: str, version: str) -> dict[str, float] | None:
    try:
        run_id = client.get_model_version(model, version).run_id
        if not run_id:
            return None
        logged = {m.key: float(m.value) for m in client.get_run(run_id).data.metrics}
    except Exception as exc:  # a baseline is a nicety: never fail a report or a run over it
        log.info("no evaluation metrics for %s version %s: %s", model, version, exc)
        return None
    found = {}
    for name in PERFORMANCE_METRICS:
        key = next((p + name for p in PREFIXES if p + name in logged), None)
        if key is not None:
            found[name] = logged[key]
    return found or None
