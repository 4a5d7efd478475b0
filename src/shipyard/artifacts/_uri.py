"""Artifact URIs: what a run's or model's ``artifact_uri`` names, and which repository serves it.

``mlflow-artifacts:/<path>`` is a path below the tracking server's artifact root (the server
proxies it); a plain path or ``file://`` URI is a local folder; ``s3://bucket/prefix`` is a key
prefix in a bucket. Anything that smuggles a fragment, query or path parameter into a URI is
refused: a ``#`` in ``artifact_location`` once let MLflow's server read ``/etc`` (CVE-2023-6909).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PureWindowsPath
from urllib.parse import unquote, urlsplit

from shipyard.artifacts._local import LocalArtifactRepository
from shipyard.artifacts._paths import normalize_artifact_path
from shipyard.artifacts._protocol import ArtifactRepository
from shipyard.artifacts._s3 import S3ArtifactRepository
from shipyard.errors import FeatureNotImplemented, InvalidParameter, InvalidPath
from shipyard.settings import S3Settings

__all__ = [
    "PROXY_SCHEME",
    "ArtifactUri",
    "is_local_uri",
    "parse_artifact_uri",
    "repository_for_uri",
]

PROXY_SCHEME = "mlflow-artifacts"
_LOCAL_HOSTS = ("", "localhost")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")


@dataclass(frozen=True, slots=True)
class ArtifactUri:
    """A parsed artifact URI.

    ``scheme`` is ``mlflow-artifacts``, ``file`` (plain paths too) or the URI's own scheme;
    ``path`` is a checked relative path for ``mlflow-artifacts`` and ``s3`` (the key prefix; the
    bucket is ``netloc``) and a local path for ``file``.
    """

    scheme: str
    netloc: str
    path: str


def parse_artifact_uri(uri: str) -> ArtifactUri:
    """Parse and check ``uri``; raises ``InvalidPath`` for anything ambiguous or smuggled."""
    if not uri or _CONTROL.search(uri):
        raise InvalidPath(f"Invalid artifact URI {uri!r}: it is empty or has control characters")
    if _is_plain_path(uri):
        return ArtifactUri("file", "", uri)
    parts = urlsplit(uri)
    if parts.query or parts.fragment or "#" in uri or ";" in uri or "?" in uri:
        raise InvalidPath(f"Invalid artifact URI {uri!r}: it has a query, fragment or ';'")
    scheme = parts.scheme.lower()
    if scheme == PROXY_SCHEME:
        return ArtifactUri(scheme, parts.netloc, normalize_artifact_path(parts.path.lstrip("/")))
    if scheme == "file":
        if parts.netloc not in _LOCAL_HOSTS:
            raise InvalidPath(f"Invalid artifact URI {uri!r}: a file URI names another host")
        if not parts.path:  # "file:" alone would mean the working directory (CVE-2024-3573)
            raise InvalidPath(f"Invalid artifact URI {uri!r}: it has no path")
        return ArtifactUri("file", "", unquote(parts.path))
    if scheme == "s3":
        if not _BUCKET.match(parts.netloc):
            raise InvalidPath(
                f"Invalid artifact URI {uri!r}: {parts.netloc!r} is not a bucket name"
            )
        return ArtifactUri(scheme, parts.netloc, normalize_artifact_path(parts.path.lstrip("/")))
    return ArtifactUri(scheme, parts.netloc, parts.path)


def is_local_uri(uri: str) -> bool:
    """True for URIs that name this machine's filesystem (plain paths and ``file:``)."""
    return parse_artifact_uri(uri).scheme == "file"


def repository_for_uri(
    uri: str,
    server_root: ArtifactRepository | None = None,
    *,
    s3: S3Settings | None = None,
    fsync: bool = False,
) -> tuple[ArtifactRepository, str]:
    """The repository that holds ``uri`` and the path of ``uri`` inside it.

    ``server_root`` is the tracking server's root repository; ``mlflow-artifacts:`` URIs resolve
    against it (in the server, or in-process); without it they must go over HTTP. Local and S3
    URIs get a repository rooted at the URI itself (path ``""``); ``s3`` says how to reach S3,
    ``fsync`` whether a local folder flushes each file to disk.
    """
    parsed = parse_artifact_uri(uri)
    if parsed.scheme == "file":
        return LocalArtifactRepository(parsed.path, fsync=fsync), ""
    if parsed.scheme == "s3":
        return S3ArtifactRepository(parsed.netloc, parsed.path, s3), ""
    if parsed.scheme == PROXY_SCHEME:
        if server_root is None:
            raise InvalidParameter(
                f"{uri!r} is served by a tracking server; reach it over HTTP (a tracking URI)"
            )
        return server_root, parsed.path
    why = f"artifact URIs with scheme {parsed.scheme!r} are unsupported"
    raise FeatureNotImplemented(f"Cannot open {uri!r}: {why}")


def _is_plain_path(uri: str) -> bool:
    """No scheme (``/a/b``, ``rel/dir``) or a Windows drive path (``C:\\a``)."""
    if "://" not in uri and ":" not in uri.split("/", 1)[0]:
        return True
    return bool(PureWindowsPath(uri).drive) and len(uri) > 1 and uri[1] == ":"
