"""What a parsed search filter or order-by clause means, independent of any backend.

Stores translate these values into SQL (or Python predicates); keeping them plain frozen data
means a store never re-parses text and tests can compare parse results with ``==``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["KINDS", "OPERATORS", "Comparison", "OrderBy"]

#: The entity kinds a key can name; ``Comparison.kind`` and ``OrderBy.kind`` hold one of these.
KINDS: tuple[str, ...] = ("attribute", "metric", "param", "tag", "dataset")

#: Every comparator in its canonical upper-case spelling, in the order error messages list them.
OPERATORS: tuple[str, ...] = (
    "=",
    "!=",
    ">",
    ">=",
    "<",
    "<=",
    "LIKE",
    "ILIKE",
    "IN",
    "NOT IN",
    "IS NULL",
    "IS NOT NULL",
)


@dataclass(frozen=True, slots=True)
class Comparison:
    """One ``key op value`` clause of a filter; a filter is the AND of its comparisons.

    ``key`` is the canonical attribute name for attributes (aliases resolved) and the raw key,
    quotes removed, for everything else. ``value`` is a float for numeric comparisons, a str for
    string comparisons, a tuple of str for ``IN``/``NOT IN`` and None for ``IS [NOT] NULL``.
    """

    kind: str
    key: str
    op: str
    value: str | float | tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class OrderBy:
    """One ``order_by`` clause; ascending unless the clause says ``DESC``."""

    kind: str
    key: str
    ascending: bool = True
