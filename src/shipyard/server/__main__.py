"""``python -m shipyard.server``: start the tracking server (the CLI's ``shipyard server`` too)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from shipyard.server._run import run_server
from shipyard.settings import Settings

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m shipyard.server", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5000)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--backend-store-uri", default=None)
    p.add_argument(
        "--default-artifact-root", "--artifacts-destination", default=None,
        help="artifact folder or s3://bucket/prefix (S3 endpoint and keys: SHIPYARD_S3_*, AWS_*)",
    )  # fmt: skip
    p.add_argument(
        "--serve-artifacts", action=argparse.BooleanOptionalAction, default=True,
        help="hand out mlflow-artifacts:/ locations and proxy uploads (default: on)",
    )  # fmt: skip
    return p


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    run_server(
        Settings.from_env(),
        host=args.host,
        port=args.port,
        workers=args.workers,
        backend_store_uri=args.backend_store_uri,
        default_artifact_root=args.default_artifact_root,
        serve_artifacts=args.serve_artifacts,
    )


if __name__ == "__main__":
    main()
