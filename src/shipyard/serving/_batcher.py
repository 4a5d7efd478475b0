"""Adaptive micro-batching: concurrent one-row requests share one ``predict()`` call.

Requests queue up while a batch is predicting (on a worker thread); the next batch takes all of
them, up to ``max_size``, waiting at most ``max_wait`` for more only when the queue is short.
Under light load a request goes alone at once; under heavy load batches grow by themselves. If a
merged batch fails (one bad row), each request is predicted alone so only the bad one fails.
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

from shipyard.serving._source import Served

__all__ = ["MicroBatcher"]

_FAILED = object()  # the batch failed: the request is predicted alone to get its own error


@dataclass(slots=True)
class _Item:
    served: Served
    frame: pd.DataFrame
    future: asyncio.Future[Any]


class MicroBatcher:
    def __init__(
        self, max_size: int, max_wait: float, observe: Any = None, executor: Executor | None = None
    ) -> None:
        self._executor = executor
        self.max_size = max_size
        self.max_wait = max_wait
        self._observe = observe  # callable(batch size) for metrics
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def predict(self, served: Served, frame: pd.DataFrame) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Item(served, frame, future))
        result = await future
        if result is _FAILED:  # predict it alone, here, so it raises its own error
            return served.model.predict(frame)
        return result

    async def _run(self) -> None:
        while True:
            items = [await self._queue.get()]
            self._drain(items)
            if len(items) < self.max_size and self.max_wait > 0:
                await asyncio.sleep(self.max_wait)
                self._drain(items)
            try:
                for group in _groups(items):
                    await self._predict(group)
            except Exception as exc:  # never leave requests waiting on a dead loop
                for item in items:
                    if not item.future.done():
                        item.future.set_exception(exc)

    def _drain(self, items: list[_Item]) -> None:
        while len(items) < self.max_size:
            try:
                items.append(self._queue.get_nowait())
            except asyncio.QueueEmpty:
                return

    async def _predict(self, group: list[_Item]) -> None:
        if self._observe is not None:
            self._observe(len(group))
        served = group[0].served
        try:
            merged = _merge([item.frame for item in group])
            loop = asyncio.get_running_loop()
            result = await loop.run_in_executor(self._executor, served.model.predict, merged)
            parts = _split(result, [len(item.frame) for item in group])
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
        frame, served = item.frame, item.served
        columns = frame.columns
        # the decoder's shared Index: no need to compare the names one by one
        names = id(columns) if columns is served.column_index else tuple(columns)
        groups.setdefault((id(served), names, _dtypes(frame)), []).append(item)
    return list(groups.values())


def _dtypes(frame: pd.DataFrame) -> tuple[Any, ...]:
    """The frame's column dtypes; a frame held in one block has one dtype (frame.dtypes builds a
    Series: a tenth of a one-row request's cost on the event loop)."""
    blocks: Any = getattr(frame._mgr, "blocks", ())
    if len(blocks) == 1:
        return (blocks[0].dtype, frame.shape[1])
    return tuple(frame.dtypes.tolist())


def _merge(frames: list[pd.DataFrame]) -> pd.DataFrame:
    if len(frames) == 1:
        return frames[0]
    blocks = [f.to_numpy() for f in frames]
    if all(b.dtype.kind in "if" for b in blocks):
        return pd.DataFrame(np.vstack(blocks), columns=frames[0].columns, copy=False)
    return pd.concat(frames, ignore_index=True)


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
