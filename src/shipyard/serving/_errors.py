"""The scoring server's own refusals (the rest of the tree comes from ``shipyard.errors``)."""

from __future__ import annotations

from shipyard.errors import BadRequest, ShipyardError

__all__ = ["PayloadTooLarge", "UnsupportedMediaType", "WebhookRejected"]


class UnsupportedMediaType(BadRequest):
    """A body in a format the endpoint does not read; the message lists the ones it does."""

    http_status = 415


class PayloadTooLarge(BadRequest):
    """A body over the server's size limit (``--max-body-mb``)."""

    http_status = 413


class WebhookRejected(ShipyardError):
    """A registry webhook without a valid ``X-Shipyard-Signature`` (or none configured)."""

    code = "PERMISSION_DENIED"
    http_status = 403
