"""Reading OSV advisories offline and matching pinned versions against their ranges."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shipyard.errors import InvalidParameter
from shipyard.gates import cvss3_score, find_vulnerabilities, load_advisories, parse_pins
from shipyard.gates._osv import Advisory


def _advisory(id_: str, name: str, events: list[dict[str, str]], **extra: Any) -> dict[str, Any]:
    affected = {
        "package": {"ecosystem": "PyPI", "name": name},
        "ranges": [{"type": "ECOSYSTEM", "events": events}],
    }
    return {"id": id_, "affected": [affected], **extra}


def _hits(db: Path, *lines: str) -> list[tuple[str, str, str | None]]:
    pins = parse_pins(lines)
    found = find_vulnerabilities(pins, load_advisories(db, [p.name for p in pins]))
    return [(f.package, f.id, f.severity) for f in found]


@pytest.mark.parametrize(
    ("version", "hit"),
    [("0.9", False), ("1.0", True), ("1.4.2", True), ("1.5", False), ("2.0", True), ("2.1", True),
     ("2.1.1", False), ("3.0rc1", False)],
)  # fmt: skip
def test_ranges_introduced_fixed_and_last_affected(tmp_path: Path, version: str, hit: bool) -> None:
    events = [
        {"introduced": "1.0"},
        {"fixed": "1.5"},
        {"introduced": "2.0"},
        {"last_affected": "2.1"},
    ]
    (tmp_path / "a.json").write_text(json.dumps(_advisory("PYSEC-1", "Some_Pkg", events)))
    found = _hits(tmp_path, f"some-pkg=={version}")
    assert bool(found) is hit


def test_explicit_versions_and_names_are_normalised(tmp_path: Path) -> None:
    advisory = {
        "id": "GHSA-x",
        "affected": [{"package": {"ecosystem": "PyPI", "name": "Foo.Bar"}, "versions": ["1.2.0"]}],
    }
    (tmp_path / "x.json").write_text(json.dumps(advisory))
    assert _hits(tmp_path, "foo_bar==1.2") == [("foo-bar", "GHSA-x", None)]
    assert _hits(tmp_path, "foo-bar==1.2.1", "other==1.2.0") == []


def test_severity_from_database_word_or_cvss_vector(tmp_path: Path) -> None:
    worded = _advisory(
        "GHSA-1", "a", [{"introduced": "0"}], database_specific={"severity": "MODERATE"}
    )
    scored = _advisory(
        "GHSA-2", "b", [{"introduced": "0"}],
        severity=[{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
    )  # fmt: skip
    (tmp_path / "all.json").write_text(json.dumps([worded, scored]))
    assert _hits(tmp_path, "a==1", "b==1") == [
        ("a", "GHSA-1", "medium"),
        ("b", "GHSA-2", "critical"),
    ]


@pytest.mark.parametrize(
    ("vector", "score"),
    [
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5),
        ("CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", 8.8),
        ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H", 9.9),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
    ],
)
def test_cvss3_base_scores(vector: str, score: float) -> None:
    assert cvss3_score(vector) == score


def test_aliases_of_one_flaw_are_one_finding_with_the_known_severity(tmp_path: Path) -> None:
    events = [{"introduced": "0"}, {"fixed": "2.0"}]
    pysec = _advisory("PYSEC-2021-1", "pkg", events, aliases=["CVE-2021-1", "GHSA-aaaa"])
    ghsa = _advisory(
        "GHSA-aaaa", "pkg", events, aliases=["CVE-2021-1"], database_specific={"severity": "HIGH"}
    )
    with zipfile.ZipFile(tmp_path / "all.zip", "w") as archive:
        archive.writestr("PYSEC-2021-1.json", json.dumps(pysec))
        archive.writestr("GHSA-aaaa.json", json.dumps(ghsa))
        archive.writestr("unrelated.json", json.dumps(_advisory("X", "zzz", events)))
    assert _hits(tmp_path / "all.zip", "pkg==1.0") == [("pkg", "PYSEC-2021-1", "high")]


def test_pins_skip_options_and_mark_unpinned_lines() -> None:
    pins = parse_pins(
        [
            "-r base.txt",
            "numpy==2.1.0",
            "pandas>=2",
            "# comment",
            "scikit_learn==1.5.0 ; python_version>'3'",
        ]
    )
    assert [(p.name, p.version) for p in pins] == [
        ("numpy", "2.1.0"),
        ("pandas", None),
        ("scikit-learn", "1.5.0"),
    ]


def test_a_missing_database_says_where_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameter, match=r"PyPI/all\.zip"):
        load_advisories(tmp_path / "missing", ["numpy"])


@given(
    points=st.lists(st.integers(0, 60), min_size=1, max_size=8, unique=True),
    probe=st.integers(0, 61),
    open_end=st.booleans(),
)
def test_ranges_agree_with_plain_intervals(points: list[int], probe: int, open_end: bool) -> None:
    """Alternating introduced/fixed events (in any order in the file) mean half-open intervals."""
    edges = sorted(points)
    if not open_end and len(edges) % 2:
        edges = edges[:-1] or [edges[0], edges[0] + 1]
    kinds = ["introduced", "fixed"] * len(edges)
    events = [{kind: f"1.{edge}"} for kind, edge in zip(kinds, edges, strict=False)]
    expected = any(
        edges[i] <= probe and (i + 1 >= len(edges) or probe < edges[i + 1])
        for i in range(0, len(edges), 2)
    )
    affected = {
        "package": {"ecosystem": "PyPI", "name": "p"},
        "ranges": [{"type": "ECOSYSTEM", "events": events[::-1]}],
    }
    advisory = Advisory("X", (), "", None, (affected,))
    found = find_vulnerabilities(parse_pins([f"p==1.{probe}"]), [advisory])
    assert bool(found) is expected
