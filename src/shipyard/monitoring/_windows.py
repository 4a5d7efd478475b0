"""Time windows: hours, days, or chunks of N rows."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from shipyard._text import is_decimal
from shipyard.errors import InvalidParameter

__all__ = ["WindowSpec", "floor_hour", "hours_between"]

_ROWS = re.compile(r"^(\d+)\s*rows?$")
HOUR = dt.timedelta(hours=1)


@dataclass(frozen=True)
class WindowSpec:
    """``hour``, ``day`` or ``<N> rows``."""

    unit: str  # "hour" | "day" | "rows"
    rows: int = 0

    @classmethod
    def parse(cls, text: str | int) -> WindowSpec:
        if isinstance(text, int) or is_decimal(str(text)):
            return cls("rows", _positive(int(text)))
        value = str(text).strip().lower()
        if value in ("hour", "hourly", "1h"):
            return cls("hour")
        if value in ("day", "daily", "1d", "24h"):
            return cls("day")
        match = _ROWS.match(value)
        if match:
            return cls("rows", _positive(int(match.group(1))))
        raise InvalidParameter(f"window {text!r}: use 'hour', 'day' or '<N> rows'")

    def __str__(self) -> str:
        return f"{self.rows} rows" if self.unit == "rows" else self.unit


def _positive(n: int) -> int:
    if n < 1:
        raise InvalidParameter("a window of N rows needs N >= 1")
    return n


def floor_hour(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def hours_between(since: dt.datetime, until: dt.datetime) -> list[dt.datetime]:
    """Start of every hour that overlaps ``[since, until)``."""
    start, hours = floor_hour(since), []
    while start < until:
        hours.append(start)
        start += HOUR
    return hours
