"""The log's root as a pyarrow filesystem: a local folder or an ``s3://bucket/prefix`` URI."""

from __future__ import annotations

from pathlib import Path

import pyarrow.fs as pafs

from shipyard.settings import S3Settings

__all__ = ["open_root"]


def open_root(
    root: str | Path, s3: S3Settings | None = None, filesystem: pafs.FileSystem | None = None
) -> tuple[pafs.FileSystem, str]:
    """``(filesystem, base path)`` for ``root``; S3 endpoint and keys come from ``s3``."""
    text = str(root)
    if filesystem is not None:
        return filesystem, text.removeprefix("s3://").rstrip("/")
    if text.startswith("s3://"):
        return _s3(s3 or S3Settings()), text.removeprefix("s3://").rstrip("/")
    if "://" in text and not text.startswith("file://"):
        fs, path = pafs.FileSystem.from_uri(text)
        return fs, path.rstrip("/")
    path = Path(text.removeprefix("file://")).expanduser().resolve()
    return pafs.LocalFileSystem(), path.as_posix()


def _s3(settings: S3Settings) -> pafs.FileSystem:
    options: dict[str, object] = {}
    if settings.endpoint_url:
        scheme, _, host = settings.endpoint_url.partition("://")
        options["endpoint_override"] = host or scheme
        options["scheme"] = scheme if host else "https"
    if settings.region:
        options["region"] = settings.region
    if settings.access_key_id:
        options["access_key"] = settings.access_key_id
        options["secret_key"] = settings.secret_access_key
        if settings.session_token:
            options["session_token"] = settings.session_token
    return pafs.S3FileSystem(**options)
