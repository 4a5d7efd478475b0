"""The kept wire bodies a process has read (``_run_docs``), held in memory for its next reads.

A finished run's body in ``run_wire`` changes only by a new fill, and every fill stamps the
run's row with a new random generation (``runs.wire_gen``) in the same transaction as the
body. While a row says ``wire_kept`` with generation ``g``, its body is the one that fill wrote,
so a body read once can be served again for ``(run id, g)`` without reading it: the search
reads the flag and the generation with the runs and asks the database only for bodies this
process does not hold. Other processes (server workers, other servers on the same database)
need no message: their fills and writes change the row, and with it what the next read looks
for. On PostgreSQL that spares a page of 100 runs its ~160 KB of bodies (0.3-0.4 ms of a
3.9 ms search over HTTP here); a read of 1,000 runs, one statement of ~1.6 MB.

Bounded by the bytes held (``KEPT_BODIES_BYTES`` by default), least recently used first out.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import NamedTuple

from shipyard.settings import KEPT_BODIES_MB

__all__ = ["KEPT_BODIES_BYTES", "Filled", "KeptBodies"]


class Filled(NamedTuple):
    """What one ``_run_docs.fill`` kept: its generation and the bodies, by run id."""

    gen: int
    bodies: dict[str, str]


# ~40,000 runs of 10 params, 10 metrics and 5 tags each (~1.6 KB a body).
KEPT_BODIES_BYTES = KEPT_BODIES_MB << 20


class KeptBodies:
    """Bodies by ``(run id, generation)``, as the bytes ``runs_json`` puts after a run's
    ``info``: the kept JSON object without its opening brace."""

    def __init__(self, max_bytes: int = KEPT_BODIES_BYTES) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._items: OrderedDict[str, tuple[int, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, run_id: str, gen: int | None) -> bytes | None:
        """The body held for ``run_id`` at generation ``gen``, or None (not held, or held
        for another generation, or ``gen`` None: a body kept before generations existed)."""
        with self._lock:
            item = self._items.get(run_id)
            if item is None or item[0] != gen:
                return None
            self._items.move_to_end(run_id)
            return item[1]

    def put(self, run_id: str, gen: int, tail: bytes) -> None:
        """Hold ``tail`` for ``run_id`` at ``gen``, replacing any other generation's."""
        if len(tail) > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(run_id, None)
            if old is not None:
                self.size -= len(old[1])
            self._items[run_id] = (gen, tail)
            self.size += len(tail)
            while self.size > self.max_bytes:
                _, (_, gone) = self._items.popitem(last=False)
                self.size -= len(gone)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.size = 0
