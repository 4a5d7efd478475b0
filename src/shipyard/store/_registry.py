"""What the model registry needs from persistence: the ``Change`` every write carries.

Every registry write is one transaction that also appends its audit event(s), so a change and its
record are stored together or not at all. ``Change`` says who made it and why.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Change"]


@dataclass(frozen=True, slots=True)
class Change:
    """The actor and reason recorded with a registry write."""

    actor: str
    reason: str | None = None
