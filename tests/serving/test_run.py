"""The server process: what it does once the model is loaded, before it listens."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from shipyard.serving import ServingConfig, run_scoring_server
from shipyard.serving._run import _factory


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    try:
        yield
    finally:
        gc.unfreeze()  # the test process keeps collecting everything


def test_one_worker_freezes_the_loaded_objects_before_listening(
    iris_model: Path, monkeypatch: pytest.MonkeyPatch, unfrozen: None
) -> None:
    seen: list[tuple[Any, int]] = []

    def run(server: uvicorn.Server) -> None:
        seen.append((server.config.app, gc.get_freeze_count()))

    monkeypatch.setattr(uvicorn.Server, "run", run)
    assert gc.get_freeze_count() == 0
    run_scoring_server(ServingConfig(str(iris_model)))
    ((app, frozen),) = seen
    assert app.state.serving.holder.current.version  # the model was loaded first
    assert frozen > 10_000  # modules, scikit-learn, pandas, the model


def test_each_worker_freezes_after_building_its_app(iris_model: Path, unfrozen: None) -> None:
    app = _factory(ServingConfig(str(iris_model)))
    assert app.state.serving.holder.current.version
    assert gc.get_freeze_count() > 10_000


def test_a_loaded_model_needs_no_cycle_collection_to_be_freed(iris_model: Path) -> None:
    """What lets a frozen worker drop a swapped-out version: reference counting alone frees it."""
    import weakref

    from shipyard.pyfunc import load_model

    model = load_model(iris_model)
    estimator = weakref.ref(model.unwrap())
    enabled = gc.isenabled()
    gc.disable()
    try:
        del model
        assert estimator() is None
    finally:
        if enabled:
            gc.enable()
