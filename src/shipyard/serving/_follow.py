"""Hot swaps: the current model, and the follower that moves it when the registry alias moves.

A request reads ``holder.current`` once and uses that object to the end, so a swap (one
attribute assignment) never splits a request between versions and never makes one wait. A new
version is loaded on a worker thread while the old one keeps answering; one that fails to load
is not swapped in, and the failure is logged and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable

from shipyard.serving._source import Loader, ModelRef, Resolver, Served, load_served

__all__ = ["AliasFollower", "ModelHolder"]

_log = logging.getLogger("shipyard.serving")


class ModelHolder:
    """The served model; ``on_swap`` callbacks see each new one (metrics, logs)."""

    def __init__(self, served: Served) -> None:
        self.current = served
        self.on_swap: list[Callable[[Served, Served], None]] = []

    def swap(self, served: Served) -> None:
        old, self.current = self.current, served
        for callback in self.on_swap:
            callback(old, served)


class AliasFollower:
    """Polls ``resolver`` every ``interval`` seconds (and on ``trigger()``) and swaps versions."""

    def __init__(
        self,
        holder: ModelHolder,
        ref: ModelRef,
        resolver: Resolver,
        loader: Loader,
        interval: float = 30.0,
    ) -> None:
        assert ref.alias is not None
        self.holder = holder
        self.ref = ref
        self.resolver = resolver
        self.loader = loader
        self.interval = interval
        self.checks = 0
        self.swaps = 0
        self.load_failures = 0
        self.resolve_failures = 0
        self._lock = threading.Lock()  # one check at a time (poll and webhook may overlap)
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    def check(self) -> bool:
        """Resolve the alias; load and swap in a new version. True when it swapped."""
        with self._lock:
            self.checks += 1
            name, alias = self.ref.name, str(self.ref.alias)
            try:
                version, uri = self.resolver.resolve(name, alias)
            except Exception as exc:
                self.resolve_failures += 1
                _log.warning("cannot resolve models:/%s@%s (keeping the current version): %s",
                             name, alias, exc)  # fmt: skip
                return False
            if version == self.holder.current.version:
                return False
            try:
                served = load_served(name, version, uri, self.loader)
            except Exception as exc:
                self.load_failures += 1
                _log.error("version %s of %s failed to load; still serving version %s: %s",
                           version, name, self.holder.current.version, exc)  # fmt: skip
                return False
            _log.warning("models:/%s@%s moved: now serving version %s (was %s)",
                         name, alias, version, self.holder.current.version)  # fmt: skip
            self.holder.swap(served)
            self.swaps += 1
            return True

    # -- on the event loop ----------------------------------------------------------------------
    def start(self) -> None:
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run())

    def trigger(self) -> None:
        """Check now (a registry webhook said something changed)."""
        if self._wake is not None:
            self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()
            await asyncio.to_thread(self.check)
