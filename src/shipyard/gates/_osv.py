"""Known vulnerabilities of pinned Python packages, from a local OSV database (offline).

OSV (https://ossf.github.io/osv-schema/) is the format of PyPA's advisory database, GitHub's
advisories and osv.dev; the whole PyPI ecosystem is one zip file
(https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip). This reader takes one advisory
``.json`` file (or a list of them), a folder of them, or that zip, keeps the advisories that
name a package we ask about, and decides whether a version is affected from ``affected[].versions``
and the ``ECOSYSTEM``/``SEMVER`` ranges (``introduced``/``fixed``/``last_affected``/``limit``
events, walked in version order as the schema describes).

Severity comes from ``database_specific.severity`` (GitHub's LOW/MODERATE/HIGH/CRITICAL), an
``ecosystem_specific.severity``, or a CVSS v3 vector whose base score is computed here. Advisories
that alias each other (a PYSEC and a GHSA id for one flaw) are reported once with the highest
severity any of them gives.
"""

from __future__ import annotations

import json
import math
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from shipyard.errors import InvalidParameter

__all__ = [
    "SEVERITIES",
    "Advisory",
    "Finding",
    "Pin",
    "cvss3_score",
    "find_vulnerabilities",
    "load_advisories",
    "normalize_name",
    "parse_pins",
]

SEVERITIES = ("low", "medium", "high", "critical")
_WORDS = {
    "low": "low",
    "moderate": "medium",
    "medium": "medium",
    "high": "high",
    "critical": "critical",
}


def normalize_name(name: str) -> str:
    """PEP 503: ``Scikit_Learn`` and ``scikit.learn`` are ``scikit-learn``."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True, slots=True)
class Pin:
    name: str
    version: str | None  # None: not pinned to one version
    line: str


def parse_pins(lines: Iterable[str]) -> list[Pin]:
    """Requirements lines to pins; options (``-r``, ``--index-url``) and URLs are left out."""
    pins: list[Pin] = []
    for line in lines:
        text = line.split("#", 1)[0].strip()
        if not text or text.startswith("-"):
            continue
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            pins.append(Pin(text, None, line))
            continue
        exact = [s.version for s in requirement.specifier if s.operator in ("==", "===")]
        version = exact[0] if len(exact) == 1 and "*" not in exact[0] else None
        pins.append(Pin(normalize_name(requirement.name), version, line))
    return pins


@dataclass(frozen=True, slots=True)
class Advisory:
    id: str
    aliases: tuple[str, ...]
    summary: str
    severity: str | None  # one of SEVERITIES, or None when the advisory gives none we read
    affected: tuple[dict[str, Any], ...]


@dataclass(slots=True)
class Finding:
    package: str
    version: str
    id: str
    aliases: list[str]
    severity: str | None
    summary: str
    fixed: list[str] = field(default_factory=list)


# -- severity -------------------------------------------------------------------------------------
_CVSS3 = {
    "AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
    "AC": {"L": 0.77, "H": 0.44},
    "UI": {"N": 0.85, "R": 0.62},
    "C": {"H": 0.56, "L": 0.22, "N": 0.0},
    "I": {"H": 0.56, "L": 0.22, "N": 0.0},
    "A": {"H": 0.56, "L": 0.22, "N": 0.0},
}
_PR = {"U": {"N": 0.85, "L": 0.62, "H": 0.27}, "C": {"N": 0.85, "L": 0.68, "H": 0.5}}


def _round_up(value: float) -> float:
    """CVSS v3.1's Roundup: the smallest one-decimal number not below ``value``."""
    scaled = round(value * 100_000)
    if scaled % 10_000 == 0:
        return scaled / 100_000
    return (math.floor(scaled / 10_000) + 1) / 10.0


def cvss3_score(vector: str) -> float | None:
    """The base score of a ``CVSS:3.x/AV:N/AC:L/...`` vector (FIRST's v3.1 equations)."""
    if not vector.startswith("CVSS:3"):
        return None
    parts = dict(p.split(":", 1) for p in vector.split("/")[1:] if ":" in p)
    try:
        scope = parts["S"]
        av, ac, ui = (_CVSS3[k][parts[k]] for k in ("AV", "AC", "UI"))
        c, i, a = (_CVSS3[k][parts[k]] for k in ("C", "I", "A"))
        pr = _PR[scope][parts["PR"]]
    except KeyError:
        return None
    iss = 1 - (1 - c) * (1 - i) * (1 - a)
    impact = 6.42 * iss if scope == "U" else 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15
    if impact <= 0:
        return 0.0
    exploitability = 8.22 * av * ac * pr * ui
    total = impact + exploitability if scope == "U" else 1.08 * (impact + exploitability)
    return _round_up(min(total, 10.0))


def _rating(score: float) -> str | None:
    if score <= 0:
        return None
    return "low" if score < 4 else "medium" if score < 7 else "high" if score < 9 else "critical"


def _severity(raw: dict[str, Any]) -> str | None:
    found: list[str] = []
    places = [raw, *[a for a in raw.get("affected") or [] if isinstance(a, dict)]]
    for place in places:
        for key in ("database_specific", "ecosystem_specific"):
            block = place.get(key)
            word = block.get("severity") if isinstance(block, dict) else None
            if isinstance(word, str) and word.lower() in _WORDS:
                found.append(_WORDS[word.lower()])
        for entry in place.get("severity") or []:
            score = entry.get("score") if isinstance(entry, dict) else None
            rated = _rating(cvss3_score(score) or 0.0) if isinstance(score, str) else None
            if rated:
                found.append(rated)
    return max(found, key=SEVERITIES.index) if found else None


# -- reading --------------------------------------------------------------------------------------
def _documents(path: Path) -> Iterator[tuple[str, bytes]]:
    if path.is_dir():
        for file in sorted(path.rglob("*.json")):
            yield str(file), file.read_bytes()
    elif path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                if member.endswith(".json"):
                    yield f"{path}:{member}", archive.read(member)
    elif path.is_file():
        yield str(path), path.read_bytes()
    else:
        raise InvalidParameter(
            f"No OSV database at {str(path)!r}: give a .json advisory, a folder of them, or the "
            "PyPI dump (https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip)"
        )


def load_advisories(path: str | Path, packages: Iterable[str]) -> list[Advisory]:
    """The advisories in the database at ``path`` that mention any of ``packages``."""
    names = {normalize_name(p) for p in packages}
    needles = {v.encode() for n in names for v in (n, n.replace("-", "_"), n.replace("-", "."))}
    found: list[Advisory] = []
    for where, blob in _documents(Path(path)):
        lowered = blob.lower()
        if not any(needle in lowered for needle in needles):
            continue  # most of a 40,000-file dump is skipped without parsing JSON
        try:
            data = json.loads(blob)
        except ValueError as exc:
            raise InvalidParameter(f"{where} is not valid JSON: {exc}") from None
        for raw in data if isinstance(data, list) else [data]:
            if isinstance(raw, dict) and "id" in raw and not raw.get("withdrawn"):
                found.append(_advisory(raw))
    return found


def _advisory(raw: dict[str, Any]) -> Advisory:
    affected = tuple(a for a in raw.get("affected") or [] if isinstance(a, dict))
    return Advisory(
        id=str(raw["id"]),
        aliases=tuple(str(a) for a in raw.get("aliases") or []),
        summary=str(raw.get("summary") or raw.get("details") or "")[:300],
        severity=_severity(raw),
        affected=affected,
    )


# -- matching -------------------------------------------------------------------------------------
def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _in_range(version: Version, events: list[dict[str, Any]]) -> bool:
    ordered: list[tuple[Version, int, str]] = []
    for event in events:
        for kind in ("introduced", "fixed", "last_affected", "limit"):
            if kind in event:
                at = Version("0") if event[kind] == "0" else _version(str(event[kind]))
                if at is not None:
                    ordered.append(
                        (at, ("introduced", "fixed", "last_affected", "limit").index(kind), kind)
                    )
    affected = False
    for at, _, kind in sorted(ordered):
        if kind == "introduced" and version >= at:
            affected = True
        elif version > at or (version == at and kind != "last_affected"):
            affected = False  # past a fix or limit, or beyond the last affected version
    return affected


def _affects(entry: dict[str, Any], name: str, version: str) -> tuple[bool, list[str]]:
    package = entry.get("package") or {}
    if not str(package.get("ecosystem", "")).startswith("PyPI"):
        return False, []
    if normalize_name(str(package.get("name", ""))) != name:
        return False, []
    parsed = _version(version)
    fixed = [
        str(e["fixed"])
        for r in entry.get("ranges") or []
        for e in r.get("events") or []
        if "fixed" in e
    ]
    listed = [str(v) for v in entry.get("versions") or []]
    if version in listed or (parsed is not None and any(_version(v) == parsed for v in listed)):
        return True, fixed
    if parsed is None:
        return False, fixed
    for span in entry.get("ranges") or []:
        if span.get("type") in ("ECOSYSTEM", "SEMVER") and _in_range(
            parsed, span.get("events") or []
        ):
            return True, fixed
    return False, fixed


def find_vulnerabilities(pins: Iterable[Pin], advisories: Iterable[Advisory]) -> list[Finding]:
    """Each pinned package's advisories; aliases of one flaw become one finding."""
    findings: list[Finding] = []
    pinned = [p for p in pins if p.version is not None]
    for advisory in advisories:
        for pin in pinned:
            for entry in advisory.affected:
                hit, fixed = _affects(entry, pin.name, str(pin.version))
                if hit:
                    findings.append(
                        Finding(pin.name, str(pin.version), advisory.id, list(advisory.aliases),
                                advisory.severity, advisory.summary, sorted(set(fixed)))
                    )  # fmt: skip
                    break
    return _merge_aliases(findings)


def _merge_aliases(findings: list[Finding]) -> list[Finding]:
    merged: list[Finding] = []
    for finding in findings:
        names = {finding.id, *finding.aliases}
        same = next(
            (m for m in merged if m.package == finding.package and names & {m.id, *m.aliases}),
            None,
        )
        if same is None:
            merged.append(finding)
            continue
        same.aliases = sorted({*same.aliases, *names} - {same.id})
        ranks = [s for s in (same.severity, finding.severity) if s is not None]
        same.severity = max(ranks, key=SEVERITIES.index) if ranks else None
        same.fixed = sorted({*same.fixed, *finding.fixed})
    return merged
