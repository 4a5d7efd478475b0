"""Metric points buffered in memory and sent in batches by a background thread.

``log_metric`` in a training loop must not wait on the network, so it only appends to a deque
(atomic under the GIL, no lock). A daemon thread drains the deque every ``interval`` seconds or
as soon as a full batch is waiting; ``flush()`` drains it synchronously and reports lost points.
"""

from __future__ import annotations

import sys
import threading
from collections import deque
from collections.abc import Callable, Sequence

from shipyard.entities import Metric
from shipyard.errors import FlushFailed

__all__ = ["MetricBuffer"]

BATCH_SIZE = 1000


class MetricBuffer:
    def __init__(
        self,
        run_id: str,
        send: Callable[[str, Sequence[Metric]], None],
        interval: float = 1.0,
    ) -> None:
        self.run_id = run_id
        self._send = send
        self._interval = interval
        self._queue: deque[Metric] = deque()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._send_lock = threading.Lock()
        self._lost = 0
        self._last_error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name=f"shipyard-metrics-{run_id[:8]}")
        self._thread.daemon = True
        self._thread.start()

    def add(self, metric: Metric) -> None:
        self._queue.append(metric)
        if len(self._queue) >= BATCH_SIZE:
            self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._interval)
            self._wake.clear()
            self._drain()

    def _drain(self) -> None:
        with self._send_lock:
            while self._queue:
                batch: list[Metric] = []
                while self._queue and len(batch) < BATCH_SIZE:
                    batch.append(self._queue.popleft())
                try:
                    self._send(self.run_id, batch)
                except Exception as exc:  # any failure: count the points, keep going
                    self._lost += len(batch)
                    self._last_error = exc

    @property
    def pending(self) -> int:
        return len(self._queue)

    def flush(self) -> None:
        """Send everything queued now; raise ``FlushFailed`` if any point was not stored."""
        self._drain()
        if self._lost:
            lost, err = self._lost, self._last_error
            self._lost, self._last_error = 0, None
            raise FlushFailed(
                f"{lost} metric point(s) for run {self.run_id} were not stored: {err}", lost
            )

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5)
        self.flush()

    def close_at_exit(self) -> None:
        """Like ``close`` but prints instead of raising (interpreter shutdown)."""
        try:
            self.close()
        except FlushFailed as exc:
            print(f"shipyard: {exc}", file=sys.stderr)
