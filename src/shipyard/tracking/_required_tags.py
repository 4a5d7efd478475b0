"""Required-tag policies: an experiment names the tags every finished run must carry.

The policy is itself an experiment tag, ``shipyard.required_tags``, holding a comma-separated list,
so it travels with the experiment through any MLflow-compatible client or export.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from shipyard.errors import MissingRequiredTags

__all__ = ["REQUIRED_TAGS_KEY", "check_required_tags", "format_policy", "parse_policy"]

REQUIRED_TAGS_KEY = "shipyard.required_tags"


def parse_policy(value: str | None) -> list[str]:
    if not value:
        return []
    return [part.strip() for part in value.split(",") if part.strip()]


def format_policy(keys: Iterable[str]) -> str:
    return ",".join(sorted({k.strip() for k in keys if k.strip()}))


def check_required_tags(
    run_id: str, experiment_tags: Mapping[str, str], run_tags: Mapping[str, str]
) -> None:
    required = parse_policy(experiment_tags.get(REQUIRED_TAGS_KEY))
    missing = [key for key in required if not run_tags.get(key)]
    if missing:
        raise MissingRequiredTags(
            f"Run {run_id} cannot finish: its experiment requires the tags "
            f"{', '.join(required)}; missing: {', '.join(missing)}. "
            "Set them (e.g. shipyard.set_tag(...)) and end the run again.",
            missing,
        )
