"""Side endpoints MLflow's client and load balancers probe: health, version, server-info."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from shipyard._version import __version__
from shipyard.server._http import json_response
from shipyard.server._multipart import multipart_enabled

__all__ = ["router"]

router = APIRouter(tags=["meta"])


@router.get("/health")
def health() -> Response:
    return Response(b"OK", media_type="text/plain")


@router.get("/version")
def version() -> Response:
    return Response(__version__.encode(), media_type="text/plain")


def _server_info(request: Request) -> Response:
    # Served without auth by MLflow too: says how the server is set up, nothing secret.
    # MLflow's client switches to mpu/* uploads for large files when multipart is enabled.
    return json_response(
        {
            "store_type": "SqlStore",
            "workspaces_enabled": False,
            "trace_archival_enabled": False,
            "multipart_uploads_enabled": multipart_enabled(request),
            "multipart_downloads_enabled": False,
            "presigned_upload_run_id_supported": False,
            "presigned_upload_model_id_supported": False,
            "features_enabled": {"gateway": False},
        }
    )


router.add_api_route("/api/3.0/mlflow/server-info", _server_info, methods=["GET"])
router.add_api_route(
    "/ajax-api/3.0/mlflow/server-info", _server_info, methods=["GET"], include_in_schema=False
)
