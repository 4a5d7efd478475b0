"""Adaptive micro-batching: concurrent one-row requests share one ``predict()`` call.

Requests queue up while a batch is predicting; the next batch takes all of them, up to
``max_size``, waiting at most ``max_wait`` for more only when the queue is short. Under light
load a request goes alone at once; under heavy load batches grow by themselves. If a merged batch
fails (one bad row), each request is predicted alone so only the bad one fails.

A batch of up to ``inline_rows`` rows predicts on the event loop, as a single request of that
size would: handing it to a thread costs a thread switch, and while the thread runs Python (the
model's input checks, its per-tree loop) it and the event loop take turns with the GIL, each
waiting up to the interpreter's switch interval (5 ms) for the other. Requests decoded as
``NumericRows`` (numbers under the served columns) are stacked as blocks: one frame per batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from shipyard.serving._codec import NumericRows
from shipyard.serving._source import Served

__all__ = ["MicroBatcher"]

_FAILED = object()  # the batch failed: the request is predicted alone to get its own error


Rows = pd.DataFrame | NumericRows


@dataclass(slots=True)
class _Item:
    served: Served
    rows: Rows
    future: asyncio.Future[Any]


class MicroBatcher:
    def __init__(
        self,
        max_size: int,
        max_wait: float,
        observe: Any = None,
        executor: Executor | None = None,
        inline_rows: int = 256,
    ) -> None:
        self._executor = executor
        self.max_size = max_size
        self.max_wait = max_wait
        self.inline_rows = inline_rows  # batches up to this many rows predict on the event loop
        self._observe = observe  # callable(batch size) for metrics
        # a list and one wake-up future: asyncio.Queue's put/get cost more than the rest of the
        # queueing (everything runs on the event loop: no lock needed)
        self._pending: list[_Item] = []
        self._wake: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def predict(self, served: Served, rows: Rows) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append(_Item(served, rows, future))
        wake = self._wake
        if wake is not None and not wake.done():
            wake.set_result(None)
        result = await future
        if result is _FAILED:  # predict it alone, here, so it raises its own error
            return served.model.predict(_frame(rows))
        return result

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._pending:
                self._wake = loop.create_future()
                await self._wake
                self._wake = None
            if len(self._pending) < self.max_size and self.max_wait > 0:
                await asyncio.sleep(self.max_wait)
            items = self._pending[: self.max_size]
            del self._pending[: self.max_size]
            try:
                for group in _groups(items):
                    await self._predict(group)
            except Exception as exc:  # never leave requests waiting on a dead loop
                for item in items:
                    if not item.future.done():
                        item.future.set_exception(exc)

    async def _predict(self, group: list[_Item]) -> None:
        if self._observe is not None:
            self._observe(len(group))
        served = group[0].served
        try:
            merged = _merge([item.rows for item in group])
            if len(merged) <= self.inline_rows:
                result = served.model.predict(merged)
            else:
                loop = asyncio.get_running_loop()
                result = await loop.run_in_executor(self._executor, served.model.predict, merged)
            parts = _split(result, [len(item.rows) for item in group])
        except Exception:
            if len(group) == 1:
                if not group[0].future.done():
                    group[0].future.set_result(_FAILED)
                return
            for item in group:  # find the bad request; the others still get answers
                await self._predict([item])
            return
        for item, part in zip(group, parts, strict=True):
            if not item.future.done():
                item.future.set_result(part)


def _groups(items: list[_Item]) -> list[list[_Item]]:
    """Requests that can share a call: same model object, same columns and dtypes (a request
    with text where numbers belong then fails in its own group, not in everyone's)."""
    groups: dict[tuple[int, int | tuple[Any, ...], tuple[Any, ...]], list[_Item]] = {}
    for item in items:
        rows, served = item.rows, item.served
        columns = rows.columns
        # the decoder's shared Index: no need to compare the names one by one
        names = id(columns) if columns is served.column_index else tuple(columns)
        groups.setdefault((id(served), names, _dtypes(rows)), []).append(item)
    return list(groups.values())


def _dtypes(rows: Rows) -> tuple[Any, ...]:
    """The column dtypes; a frame held in one block has one dtype (frame.dtypes builds a
    Series: a tenth of a one-row request's cost on the event loop)."""
    if isinstance(rows, NumericRows):
        return (rows.block.dtype, rows.block.shape[1])
    blocks: Any = getattr(rows._mgr, "blocks", ())
    if len(blocks) == 1:
        return (blocks[0].dtype, rows.shape[1])
    return tuple(rows.dtypes.tolist())


def _merge(inputs: list[Rows]) -> pd.DataFrame:
    """One frame of a group's rows (same columns, same dtypes), in order."""
    if len(inputs) == 1:
        return _frame(inputs[0])
    blocks = [x.block if isinstance(x, NumericRows) else x.to_numpy() for x in inputs]
    if all(b.dtype.kind in "if" for b in blocks):
        return pd.DataFrame(np.concatenate(blocks), columns=inputs[0].columns, copy=False)
    return pd.concat([_frame(x) for x in inputs], ignore_index=True)


def _frame(rows: Rows) -> pd.DataFrame:
    return rows.frame() if isinstance(rows, NumericRows) else rows


def _split(result: Any, sizes: list[int]) -> list[Any]:
    bounds = np.cumsum([0, *sizes])
    pieces = list(itertools.pairwise(bounds))
    if isinstance(result, pd.DataFrame | pd.Series):
        return [result.iloc[a:b] for a, b in pieces]
    if isinstance(result, dict):
        return [{k: np.asarray(v)[a:b] for k, v in result.items()} for a, b in pieces]
    array = np.asarray(result)
    if len(array) != bounds[-1]:
        raise ValueError("the model returned a different number of rows than it was given")
    return [array[a:b] for a, b in pieces]
