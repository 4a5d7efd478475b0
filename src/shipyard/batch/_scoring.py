"""Scoring the units: one process with reading, predicting and writing overlapped, or forked
worker processes; and which of the two by default.

In one process, a reader thread reads unit N+1 (pyarrow releases the GIL while it parses) and a
writer thread writes unit N-1's part while the model predicts unit N, so the job takes about as
long as its slowest step, not the sum of the three; the first unit is read while the model's
libraries are imported and the model loaded. At most three units are in memory.

Processes (``workers`` > 1) help a model whose ``predict`` runs on one core. A model that already
spreads one ``predict`` over the cores (OpenMP in HistGradientBoosting, LightGBM, XGBoost; BLAS)
gains nothing from them but pays for the forks and the extra parts. ``workers=0`` decides by
timing the model on a sample of the first unit with one thread and with its default threads.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import (
    FIRST_COMPLETED,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)

import pandas as pd

from shipyard.batch._plan import Unit
from shipyard.batch._worker import (
    WorkerSpec,
    close_worker,
    init_worker,
    read_unit,
    score_unit,
    write_unit,
)
from shipyard.models import PyFuncModel

__all__ = ["choose_processes", "run_units"]

_PROBE_ROWS = 4_000
_THREADED = 1.4  # default threads this much faster than one: the model parallelizes itself


def run_units(
    spec: WorkerSpec,
    units: list[Unit],
    workers: int,
    on_unit: Callable[[int], None] | None,
) -> tuple[int, int]:
    """Score ``units``; returns (rows, processes used). ``workers`` 0: choose."""
    if not units:
        return 0, 0
    from shipyard.pyfunc import load_model

    with (
        ThreadPoolExecutor(1, "shipyard-batch-read") as reads,
        ThreadPoolExecutor(1, "shipyard-batch-write") as writes,
    ):
        ahead = reads.submit(_timed_read, units[0], spec) if workers <= 1 else None
        # loaded here once: a bad URI fails before any work, and forked workers share the model
        model = load_model(spec.model_uri, spec.trusted, tracking_uri=spec.tracking_uri)
        if workers == 0 and ahead is not None:
            workers = choose_processes(_speedup(model, ahead.result()[1]), len(units))
        if workers > 1 and len(units) > 1:
            return _in_processes(spec, model, units, workers, on_unit), min(workers, len(units))
        assert ahead is not None
        return _pipelined(spec, model, units, ahead, reads, writes, on_unit), 1


def choose_processes(speedup: float, units: int, cores: int | None = None) -> int:
    """One process when the model's own threads already speed it up (or there is one core or
    one unit); else one process per core."""
    cores = cores or os.cpu_count() or 1
    if cores == 1 or units == 1 or speedup >= _THREADED:
        return 1
    return min(cores, units)


def _speedup(model: PyFuncModel, frame: pd.DataFrame) -> float:
    """How much faster the model predicts a sample with its default threads than with one."""
    if (os.cpu_count() or 1) == 1:
        return 1.0
    from threadpoolctl import threadpool_limits

    sample = frame.head(_PROBE_ROWS)
    model.predict(sample)  # warm-up: thread pools, lazy imports, caches
    one, default = [], []
    for _ in range(2):  # interleaved, best of two: the machine may be busy
        with threadpool_limits(1):
            one.append(_seconds(model, sample))
        default.append(_seconds(model, sample))
    return min(one) / max(min(default), 1e-9)


def _seconds(model: PyFuncModel, sample: pd.DataFrame) -> float:
    started = time.perf_counter()
    model.predict(sample)
    return time.perf_counter() - started


def _timed_read(unit: Unit, spec: WorkerSpec) -> tuple[float, pd.DataFrame]:
    started = time.perf_counter()
    return started, read_unit(unit, spec)


def _pipelined(
    spec: WorkerSpec,
    model: PyFuncModel,
    units: list[Unit],
    ahead: Future[tuple[float, pd.DataFrame]],
    reads: ThreadPoolExecutor,
    writes: ThreadPoolExecutor,
    on_unit: Callable[[int], None] | None,
) -> int:
    init_worker(spec, model)
    total = 0
    written: Future[int] | None = None
    try:
        for number, unit in enumerate(units):
            started, frame = ahead.result()
            if number + 1 < len(units):
                ahead = reads.submit(_timed_read, units[number + 1], spec)
            predictions = model.predict(frame)
            if written is not None:
                total += _counted(written.result(), on_unit)
            written = writes.submit(write_unit, unit, frame, predictions, started)
        if written is not None:
            total += _counted(written.result(), on_unit)
            written = None
    finally:
        if written is not None:  # failing: let the write in flight finish before closing the log
            wait([written])
        close_worker()
    return total


def _in_processes(
    spec: WorkerSpec,
    model: PyFuncModel,
    units: list[Unit],
    workers: int,
    on_unit: Callable[[int], None] | None,
) -> int:
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    total = 0
    # one BLAS/OpenMP thread each: processes fighting over the cores' threads lose to that
    with ProcessPoolExecutor(
        min(workers, len(units)), context, init_worker, (spec, model, 1)
    ) as pool:
        pending: set[Future[int]] = {pool.submit(score_unit, unit) for unit in units}
        try:
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    total += _counted(future.result(), on_unit)
        except BaseException:
            for future in pending:
                future.cancel()
            raise
    return total


def _counted(rows: int, on_unit: Callable[[int], None] | None) -> int:
    if on_unit is not None:
        on_unit(rows)
    return rows
