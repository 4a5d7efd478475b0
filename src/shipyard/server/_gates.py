"""``POST /api/2.0/shipyard/gates/run``: a promotion gate run by the tracking server.

The body carries the policy (YAML text) and the evaluation data (base64 Parquet, or CSV text);
the candidate is a registered version (``models:/<name>/<version>`` or ``@alias``). The gate then
runs as a client of this same server, so it resolves models, logs its report into the version's
run, records the ``gate.decision`` event and moves the alias exactly as ``shipyard gate run``
does, with the caller's declared actor. The server reads no file a caller names: policies that
point at server paths (``data``, an OSV ``database``) and non-registry model URIs are refused.
Pickle-based models are never loaded here (``trusted`` is off). The answer is the report; its
``passed`` field is the decision (the HTTP status is 200 either way).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import io
from typing import TYPE_CHECKING

import orjson
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict

from shipyard.errors import InvalidParameter
from shipyard.server._http import MAX_BODY_BYTES, FastJSONRoute, required
from shipyard.server._registry import change_of
from shipyard.settings import Settings

if TYPE_CHECKING:  # imported when a gate runs: scikit-learn and pandas would cost every
    # server process ~100 MB of memory at start-up
    import pandas as pd

    from shipyard import gates

__all__ = ["PREFIX", "router"]

PREFIX = "/api/2.0/shipyard/gates"

router = APIRouter(
    prefix=PREFIX, tags=["gates"], route_class=FastJSONRoute, max_body_size=MAX_BODY_BYTES
)


class GateRunBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model_uri: str | None = None
    policy: str | None = None
    data_parquet_base64: str | None = None
    data_csv: str | None = None
    baseline: str | None = None
    promote: bool = False
    reason: str | None = None


def _data(body: GateRunBody) -> pd.DataFrame:
    import pandas as pd

    if (body.data_parquet_base64 is None) == (body.data_csv is None):
        raise InvalidParameter("Give the evaluation data as data_parquet_base64 or data_csv")
    try:
        if body.data_csv is not None:
            return pd.read_csv(io.StringIO(body.data_csv))
        raw = base64.b64decode(str(body.data_parquet_base64), validate=True)
        return pd.read_parquet(io.BytesIO(raw))
    except (binascii.Error, ValueError, OSError) as exc:
        raise InvalidParameter(f"Cannot read the evaluation data: {exc}") from None


def _registered(uri: str, what: str) -> str:
    from shipyard import gates

    if gates.parse_registry_uri(uri) is None:
        raise InvalidParameter(
            f"{what} must be a registered version (models:/<name>/<version> or "
            f"models:/<name>@<alias>), not {uri!r}: the server reads no path a caller names"
        )
    return uri


def _policy(text: str) -> gates.Policy:
    from shipyard import gates
    from shipyard.gates._policy import VulnerabilityCheck

    policy = gates.parse_policy(text)
    if policy.data is not None:
        raise InvalidParameter("A policy sent to the server cannot name `data`: send the data")
    if any(isinstance(c, VulnerabilityCheck) for c in policy.checks):
        raise InvalidParameter(
            "The server does not read OSV databases from paths a caller names: run "
            "vulnerability checks with `shipyard gate run`, where the database is a local file"
        )
    return policy


@router.post("/run")
def run_gate(request: Request, body: GateRunBody) -> Response:
    """Run a gate on a registered version; the answer is the report."""
    from shipyard import gates

    uri = _registered(required(body.model_uri, "model_uri"), "model_uri")
    baseline = _registered(body.baseline, "baseline") if body.baseline else None
    policy = _policy(required(body.policy, "policy"))
    data = _data(body)
    change = change_of(request)
    server: Settings = request.app.state.settings
    as_caller = dataclasses.replace(server, user=change.actor, trust_pickle=False)
    report = gates.run(
        uri, policy, data, baseline=baseline, promote=body.promote,
        reason=body.reason or change.reason, tracking_uri=str(request.base_url).rstrip("/"),
        settings=as_caller,
    )  # fmt: skip
    content = orjson.dumps(report.to_dict(), default=str, option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(content, media_type="application/json")
