"""Monitoring routes, under ``/api/2.0/shipyard/monitoring``: the report's JSON (for the UI),
label ingestion, and the incident book.

Built by ``monitoring_router(log_root, state_dir, tracking_uri)`` because the routes need to
know where the inference log and the monitoring folder are; reference profiles come from the
registry at ``tracking_uri`` (the server's own store).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import pandas as pd
from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict

from shipyard.errors import InvalidParameter, ShipyardError
from shipyard.monitoring import Monitor, Reference, build_report, load_reference
from shipyard.server._http import MAX_BODY_BYTES, FastJSONRoute, json_response, required
from shipyard.settings import S3Settings

__all__ = ["PREFIX", "monitoring_router"]

PREFIX = "/api/2.0/shipyard/monitoring"
MAX_LABELS = 100_000


class LabelRow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: str
    label: str | int | float | bool
    row: int | None = None


class LabelsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    labels: list[LabelRow]


def monitoring_router(
    log_root: str,
    state_dir: str | Path,
    tracking_uri: str | None = None,
    s3: S3Settings | None = None,
) -> APIRouter:
    def references(model: str, version: str) -> Reference | None:
        try:
            return load_reference(f"models:/{model}/{version}", tracking_uri=tracking_uri)
        except ShipyardError:
            return None

    monitor = Monitor(log_root, state_dir, references, s3=s3)
    router = APIRouter(
        prefix=PREFIX, tags=["monitoring"], route_class=FastJSONRoute, max_body_size=MAX_BODY_BYTES
    )

    @router.get("/report")
    def report(
        model: Annotated[str | None, Query()] = None,
        since: Annotated[str | None, Query()] = None,
        until: Annotated[str | None, Query()] = None,
        window: Annotated[str, Query()] = "hour",
        version: Annotated[list[str] | None, Query()] = None,
    ) -> Response:
        found = build_report(
            monitor,
            required(model, "model"),
            required(since, "since"),
            until,
            window,
            versions=version or None,
        )
        return json_response(found)

    @router.post("/labels")
    def labels(body: LabelsBody) -> Response:
        if len(body.labels) > MAX_LABELS:
            raise InvalidParameter(f"at most {MAX_LABELS} labels per request")
        rows = [r.model_dump(exclude_none=True) for r in body.labels]
        frame = pd.DataFrame(rows)
        if "row" in frame and frame["row"].isna().any():
            raise InvalidParameter("labels: give 'row' for every label or for none")
        return json_response({"stored": monitor.labels.ingest(frame)})

    @router.get("/incidents")
    def incidents(model: Annotated[str | None, Query()] = None) -> Response:
        path = Path(state_dir) / "incidents" / f"{quote(required(model, 'model'), safe='')}.json"
        book: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
        return json_response({"incidents": book.get("incidents", [])})

    return router
