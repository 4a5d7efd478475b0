"""The ``shipyard`` command line."""

from shipyard.cli._app import app, main

__all__ = ["app", "main"]
