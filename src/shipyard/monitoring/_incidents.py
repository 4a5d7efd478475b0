"""Incident state: which alerts are open and which of their actions already ran.

One JSON file per model under ``<state dir>/incidents/``, replaced atomically and guarded by a
lock file, so two ``monitor run`` processes cannot both act on one incident. An incident opens
when an alert starts firing for a model version, stays open while it keeps firing, and closes on
the first evaluation where it no longer fires; each action runs at most once per incident (a
failed one is retried on later runs, up to ``MAX_ATTEMPTS``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

__all__ = ["MAX_ATTEMPTS", "IncidentBook", "locked_book"]

MAX_ATTEMPTS = 3
STATE_FORMAT_VERSION = 1


class IncidentBook:
    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    @property
    def incidents(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.data.setdefault("incidents", [])
        return items

    def open_incident(self, alert: str, version: str) -> dict[str, Any] | None:
        return next(
            (
                i
                for i in self.incidents
                if i["alert"] == alert and i["version"] == version and i["closed_at"] is None
            ),
            None,
        )

    def open_incidents(self) -> list[dict[str, Any]]:
        return [i for i in self.incidents if i["closed_at"] is None]


@contextlib.contextmanager
def locked_book(state_dir: Path, model: str) -> Iterator[IncidentBook]:
    """The model's incident book, locked for the block and saved when it ends without error."""
    folder = state_dir / "incidents"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{quote(model, safe='')}.json"
    with open(folder / f".{path.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = json.loads(path.read_text()) if path.exists() else {}
        data.setdefault("incident_state_format_version", STATE_FORMAT_VERSION)
        book = IncidentBook(data)
        yield book
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(book.data, indent=1, default=str))
        os.replace(tmp, path)
