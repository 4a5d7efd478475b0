"""Fuzz every route from the app's own OpenAPI schema: no input may produce a server error.

The schema is loaded at import time (schemathesis' lazy fixture loader does not run under this
pytest), over an app on a throwaway SQLite database holding one experiment and one run.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import schemathesis
from schemathesis import GenerationMode

from shipyard.server import create_app
from shipyard.settings import Settings
from shipyard.store.sql import SqlStore
from shipyard.tracking import TrackingService


def _app() -> Any:
    folder = Path(tempfile.mkdtemp(prefix="shipyard-fuzz-"))
    settings = Settings(artifact_root=str(folder / "artifacts"))
    store = SqlStore(f"sqlite:///{folder / 'fuzz.db'}", "mlflow-artifacts:/")
    service = TrackingService(store, settings.limits)
    service.create_run(service.create_experiment("fuzz"), "fuzzer", 0)
    return create_app(settings, service, extra_routers=())


schema = schemathesis.openapi.from_asgi("/openapi.json", _app())
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=40
)


@schema.parametrize()
def test_no_input_makes_a_server_error(case: Any) -> None:
    response = case.call()
    assert response.status_code < 500, response.text
    content_type = response.headers["content-type"][0]
    assert content_type.startswith(("application/json", "text/plain"))
    if response.status_code >= 400:
        assert set(response.json()) == {"error_code", "message"}
