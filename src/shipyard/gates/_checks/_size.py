"""The size check: the package's bytes on disk (every file, the manifest included)."""

from __future__ import annotations

from shipyard.gates._checks._common import result
from shipyard.gates._policy import SizeCheck
from shipyard.gates._result import CheckResult
from shipyard.gates._subject import GateContext

__all__ = ["human_bytes", "run_size"]


def human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{size} B"
        value /= 1024
    return f"{size} B"


def run_size(check: SizeCheck, ctx: GateContext) -> CheckResult:
    size, bound = ctx.candidate.size_bytes, int(check.max_bytes)
    described = f"package size = {size} bytes ({human_bytes(size)})"
    failures = (
        [f"{described}, above the maximum {bound} bytes ({human_bytes(bound)})"]
        if size > bound
        else []
    )
    return result(
        check, failures, f"{described}, at most {bound} bytes ({human_bytes(bound)})",
        measured={"bytes": size}, bounds={"max_bytes": bound},
    )  # fmt: skip
