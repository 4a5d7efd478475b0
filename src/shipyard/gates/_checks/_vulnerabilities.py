"""The vulnerable-dependencies check: the package's pinned requirements against a local OSV
database, failing on any advisory at or above the policy's severity."""

from __future__ import annotations

from dataclasses import asdict

from shipyard.gates._checks._common import result
from shipyard.gates._osv import SEVERITIES, find_vulnerabilities, load_advisories, parse_pins
from shipyard.gates._policy import VulnerabilityCheck
from shipyard.gates._result import CheckResult
from shipyard.gates._subject import GateContext

__all__ = ["run_vulnerabilities"]


def run_vulnerabilities(check: VulnerabilityCheck, ctx: GateContext) -> CheckResult:
    pins = parse_pins(ctx.candidate.requirements)
    advisories = load_advisories(check.database, [p.name for p in pins])
    findings = find_vulnerabilities(pins, advisories)
    ignored = set(check.ignore)
    threshold = SEVERITIES.index(check.fail_at)
    table = []
    blocking = []
    for finding in findings:
        severity = finding.severity or check.unknown_severity
        waived = bool(ignored & {finding.id, *finding.aliases})
        blocks = SEVERITIES.index(severity) >= threshold and not waived
        row = {**asdict(finding), "severity": severity, "ignored": waived, "blocking": blocks}
        if finding.severity is None:
            row["severity_note"] = f"no severity given; ranked {check.unknown_severity}"
        table.append(row)
        if blocks:
            blocking.append(row)
    unpinned = [p.line.strip() for p in pins if p.version is None]
    failures = []
    if blocking:
        listed = "; ".join(
            f"{r['package']}=={r['version']}: {r['id']} ({r['severity']})"
            + (f", fixed in {', '.join(r['fixed'])}" if r["fixed"] else "")
            for r in blocking[:5]
        )
        failures.append(
            f"{len(blocking)} advisory(ies) at or above {check.fail_at} severity in the pinned "
            f"requirements, allowed: 0: {listed}"
        )
    if unpinned and check.fail_on_unpinned:
        listed = ", ".join(unpinned)
        failures.append(f"{len(unpinned)} requirement(s) not pinned, allowed: 0: {listed}")
    pinned = len(pins) - len(unpinned)
    summary = (
        f"{pinned} pinned requirement(s), {len(findings)} advisory(ies) found, none at or above "
        f"{check.fail_at} severity"
    )
    return result(
        check, failures, summary,
        measured={"advisories": len(findings), "blocking": len(blocking), "unpinned": unpinned},
        bounds={"fail_at": check.fail_at, "blocking": 0}, table=table,
    )  # fmt: skip
