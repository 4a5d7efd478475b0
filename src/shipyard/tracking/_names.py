"""Friendly run names (``brave-otter-417``) for runs started without one."""

from __future__ import annotations

import random

__all__ = ["random_run_name"]

_ADJECTIVES = ["amber", "agile", "bold", "brave", "bright", "calm", "clever", "cosmic", "crisp", "daring", "eager", "fancy", "gentle", "golden", "honest", "humble", "jolly", "keen", "lively", "lucid", "merry", "mighty", "nimble", "noble", "patient", "polite", "proud", "quick", "quiet", "rapid", "rare", "serene", "sharp", "shiny", "silent", "smart", "steady", "sunny", "swift", "tidy", "vivid", "warm", "wise"]
_NOUNS = ["anchor", "badger", "beacon", "bison", "brook", "cedar", "comet", "condor", "coral", "crane", "delta", "dolphin", "falcon", "fern", "finch", "fox", "gecko", "harbor", "heron", "ibis", "jay", "kestrel", "lark", "lynx", "maple", "marlin", "moth", "newt", "orca", "otter", "owl", "panda", "pike", "quail", "raven", "reef", "robin", "salmon", "seal", "sparrow", "swan", "tern", "tiger", "trout", "wren", "yak"]


def random_run_name(rng: random.Random | None = None) -> str:
    r = rng or random
    return f"{r.choice(_ADJECTIVES)}-{r.choice(_NOUNS)}-{r.randint(100, 999)}"
