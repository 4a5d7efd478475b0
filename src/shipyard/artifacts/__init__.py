"""Artifact storage: repositories behind one protocol, safe paths, artifact URIs, SDK transfers."""

from shipyard.artifacts._client import (
    Target,
    TransferProgress,
    download_artifacts,
    list_artifacts,
    upload_bytes,
    upload_directory,
    upload_file,
)
from shipyard.artifacts._local import LocalArtifactRepository
from shipyard.artifacts._paths import normalize_artifact_path, resolve_under
from shipyard.artifacts._protocol import (
    DEFAULT_CHUNK_SIZE,
    MAX_UPLOAD_PARTS,
    ArtifactRepository,
    ArtifactStream,
    FileInfo,
    MultipartArtifactRepository,
    MultipartUpload,
    UploadedPart,
)
from shipyard.artifacts._s3 import S3ArtifactRepository
from shipyard.artifacts._uri import (
    PROXY_SCHEME,
    ArtifactUri,
    is_local_uri,
    parse_artifact_uri,
    repository_for_uri,
)

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "MAX_UPLOAD_PARTS",
    "PROXY_SCHEME",
    "ArtifactRepository",
    "ArtifactStream",
    "ArtifactUri",
    "FileInfo",
    "LocalArtifactRepository",
    "MultipartArtifactRepository",
    "MultipartUpload",
    "S3ArtifactRepository",
    "Target",
    "TransferProgress",
    "UploadedPart",
    "download_artifacts",
    "is_local_uri",
    "list_artifacts",
    "normalize_artifact_path",
    "parse_artifact_uri",
    "repository_for_uri",
    "resolve_under",
    "upload_bytes",
    "upload_directory",
    "upload_file",
]
