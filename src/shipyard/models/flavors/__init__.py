"""One module per model flavor (see ``shipyard.models._flavor`` for what a flavor provides)."""

__all__: list[str] = []
