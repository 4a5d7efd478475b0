"""The model registry: versions, aliases and stages, approvals, rollback, lineage, audit trail.

``RegistryService`` holds the rules; ``open_registry`` builds one over a local database for the
in-process SDK and CLI. The server builds its own with the artifact roots it owns.
"""

from shipyard.registry._audit import AuditVerdict, verify_chain
from shipyard.registry._open import open_registry
from shipyard.registry._service import AliasMove, RegistryService, parse_stage, parse_version
from shipyard.registry._webhooks import Dispatcher, check_webhook_url, sign

__all__ = [
    "AliasMove",
    "AuditVerdict",
    "Dispatcher",
    "RegistryService",
    "check_webhook_url",
    "open_registry",
    "parse_stage",
    "parse_version",
    "sign",
    "verify_chain",
]
