"""Path safety: every spelling of "outside the root" in security.md, and properties for the rest."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from shipyard.artifacts import normalize_artifact_path, resolve_under
from shipyard.errors import InvalidParameter, InvalidPath

# One entry per vector in security.md (and the list), as a client would send it.
ATTACKS = [
    "../secret",  # plain traversal (issue #7166)
    "a/../../secret",
    "..",
    "..%2fsecret",  # encoded once (CVE-2023-6831)
    "..%2Fsecret",
    "%2e%2e/secret",
    "%2e%2e%2fsecret",
    "%252e%252e%252fsecret",  # encoded twice (CVE-2023-6730, CVE-2024-1560)
    "%25252e%25252e%25252fsecret",  # three times
    "a/%252e%252e/%252e%252e/secret",
    "..\\secret",  # backslash (CVE-2023-2356, CVE-2023-6977)
    "\\..\\secret",
    "a\\..\\..\\secret",
    "..%5csecret",
    "%5c..%5csecret",
    "..%255csecret",
    "../a\\..\\secret",  # mixed
    "/etc/passwd",  # absolute
    "%2fetc%2fpasswd",
    "//etc/passwd",
    "C:\\Windows\\win.ini",  # drive letters
    "C:/Windows/win.ini",
    "c:secret",
    "a/D:/secret",
    "file:///etc/passwd",  # a URI where a path belongs (CVE-2024-3573)
    "file:/etc/passwd",
    "secret\x00.txt",  # NUL
    "secret%00.txt",
    "a#/../../secret",  # fragment (CVE-2023-6909, CVE-2024-3848, CVE-2024-1483)
    "a%23/../../secret",
    "http:///#/../../etc/",
    "a;/../../secret",  # path parameter (CVE-2024-1593)
    "a/..;/secret",
    "a%3b/secret",
    "...",  # dots only: a parent on some filesystems
    ".. /secret",
    "a/\u2025/secret",  # TWO DOT LEADER, NFKC "..": the look-alike spelling
    "\uff0e\uff0e/secret",  # FULLWIDTH FULL STOP x2
    "\uff0e\uff0e\uff0fsecret",
    "a/\nb",  # control characters
    "%ff%fe",  # not UTF-8 once decoded
]


@pytest.mark.parametrize("attack", ATTACKS)
def test_every_known_vector_is_rejected_with_a_reason(attack: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidPath, match=r"^Invalid path .*: \w") as caught:
        resolve_under(tmp_path.resolve(), attack)
    assert isinstance(caught.value, InvalidParameter)
    assert caught.value.code == "INVALID_PARAMETER_VALUE"
    assert caught.value.http_status == 400


@pytest.mark.parametrize(
    ("given_path", "expected"),
    [
        ("", ""),
        (".", ""),
        ("a/b.txt", "a/b.txt"),
        ("a//b/./c/", "a/b/c"),
        ("./model/MLmodel", "model/MLmodel"),
        ("with space/ünïcödé ✓.txt", "with space/ünïcödé ✓.txt"),
        ("a%20b", "a b"),
        ("100%.txt", "100%.txt"),
        ("..a/b..", "..a/b.."),
        (".hidden", ".hidden"),
        ("note:1.txt", "note:1.txt"),
        ("2024-01-01T10:00:00.json", "2024-01-01T10:00:00.json"),
    ],
)
def test_plain_paths_are_kept(given_path: str, expected: str) -> None:
    assert normalize_artifact_path(given_path) == expected


def test_overlong_names_are_refused_before_the_filesystem_sees_them(tmp_path: Path) -> None:
    with pytest.raises(InvalidPath, match="longer than 255 bytes"):
        resolve_under(tmp_path, "a/" + "x" * 256)
    with pytest.raises(InvalidPath, match="longer than 4096"):
        normalize_artifact_path("a/" * 3000)


def test_percent_encoding_past_the_limit_is_refused() -> None:
    path = ".."
    for _ in range(10):
        path = path.replace("%", "%25") if "%" in path else "%2e%2e"
    with pytest.raises(InvalidPath, match="too many times"):
        normalize_artifact_path(path)


def test_symlink_out_of_the_root_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "run").mkdir(parents=True)
    (tmp_path / "secret").write_text("s")
    os.symlink(tmp_path, root / "run" / "escape")
    with pytest.raises(InvalidPath, match="outside the artifact root"):
        resolve_under(root.resolve(), "run/escape/secret")


def test_symlink_inside_the_root_is_followed(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    (root / "real").mkdir()
    os.symlink(root / "real", root / "alias")
    assert resolve_under(root, "alias/f.txt") == root / "real" / "f.txt"


def test_symlink_loop_is_refused(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    os.symlink(root / "b", root / "a")
    os.symlink(root / "a", root / "b")
    with pytest.raises(InvalidPath):
        resolve_under(root, "a/x")


# Properties: built from the pieces attacks are made of, so hypothesis explores their mixtures.
_PIECES = st.sampled_from(
    [
        "..",
        ".",
        "/",
        "\\",
        "%",
        "2e",
        "2E",
        "2f",
        "2F",
        "5c",
        "25",
        ";",
        "#",
        "\x00",
        ":",
        "C",
        "a",
        "b",
        " ",
        "~",
        "%2e",
        "%2f",
        "%252e",
        "\u2025",
        "\uff0e",
        "\uff0f",
        "file:",
    ]
)
_ATTACKISH = st.lists(_PIECES, max_size=12).map("".join)
_ANY = st.one_of(_ATTACKISH, st.text(max_size=40))


@pytest.fixture(scope="module")
def jail(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root with a sibling secret and a planted symlink pointing out of it."""
    base = tmp_path_factory.mktemp("jail")
    root = base / "root"
    (root / "a" / "b").mkdir(parents=True)
    (base / "secret").write_text("secret")
    os.symlink(base, root / "a" / "out")
    return root.resolve()


@settings(max_examples=600, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=_ANY)
def test_no_path_resolves_outside_the_root(jail: Path, path: str) -> None:
    try:
        resolved = resolve_under(jail, path)
    except InvalidPath:
        return
    assert resolved == jail or jail in resolved.parents


@settings(max_examples=300)
@given(path=_ANY)
@example(path="./\uff0f")  # found by this test: U+FF0F folds to "/" (NFKC)
def test_normal_form_is_stable_and_relative(path: str) -> None:
    try:
        normal = normalize_artifact_path(path)
    except InvalidPath:
        return
    assert normalize_artifact_path(normal) == normal
    assert not normal.startswith("/")
    assert ".." not in normal.split("/")
    assert "\\" not in normal and "\x00" not in normal


_NAME = st.text(
    st.characters(categories=["L", "N", "Zs"], include_characters="-_.()", exclude_characters="%"),
    min_size=1,
    max_size=20,
).filter(lambda s: s.strip(". ") != "")


@settings(max_examples=300)
@given(segments=st.lists(_NAME, min_size=1, max_size=5))
def test_ordinary_names_pass_unchanged(segments: list[str]) -> None:
    path = "/".join(segments)
    assert normalize_artifact_path(path) == path
