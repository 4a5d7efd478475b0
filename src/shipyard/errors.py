"""Every failure Shipyard reports, as one tree of exceptions.

Each class carries a stable ``code`` (MLflow's wire name, so the official client branches on it
correctly) and the ``http_status`` the server answers with. The server maps errors to responses in
one handler; the REST client turns responses back into the same classes.

    ShipyardError                      INTERNAL_ERROR            500
    ├── InvalidParameter (ValueError)  INVALID_PARAMETER_VALUE   400
    │   ├── InvalidFilter                                         400
    │   ├── ImmutableParam                                        400
    │   ├── InactiveResource                                      400
    │   ├── MissingRequiredTags                                   400
    │   ├── InvalidPath                                           400
    │   ├── InvalidModel                                          400
    │   │   └── UnsupportedModelFormat                            400
    │   ├── SignatureMismatch                                     400
    │   ├── NothingToRollBack                                     400
    │   └── InvalidPolicy (.line)                                 400
    ├── BadRequest                     BAD_REQUEST               400
    ├── NotFound (LookupError)         RESOURCE_DOES_NOT_EXIST   404
    │   ├── ExperimentNotFound
    │   ├── RunNotFound
    │   ├── LoggedModelNotFound
    │   ├── RegisteredModelNotFound
    │   ├── ModelVersionNotFound
    │   └── ApprovalNotFound
    ├── AlreadyExists                  RESOURCE_ALREADY_EXISTS   400
    ├── EndpointNotFound               ENDPOINT_NOT_FOUND        404
    ├── FeatureNotImplemented          NOT_IMPLEMENTED           501
    ├── SchemaOutOfDate                TEMPORARILY_UNAVAILABLE   503
    ├── UntrustedModel                 PERMISSION_DENIED         403
    ├── PermissionDenied               PERMISSION_DENIED         403
    │   └── ApprovalRequired
    ├── MissingDependency              INTERNAL_ERROR            500
    ├── EnvBuildFailed                 INTERNAL_ERROR            500
    └── FlushFailed                    INTERNAL_ERROR            500
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AlreadyExists",
    "ApprovalNotFound",
    "ApprovalRequired",
    "BadRequest",
    "EndpointNotFound",
    "EnvBuildFailed",
    "ExperimentNotFound",
    "FeatureNotImplemented",
    "FlushFailed",
    "ImmutableParam",
    "InactiveResource",
    "InvalidFilter",
    "InvalidModel",
    "InvalidParameter",
    "InvalidPath",
    "InvalidPolicy",
    "LoggedModelNotFound",
    "MissingDependency",
    "MissingRequiredTags",
    "ModelVersionNotFound",
    "NotFound",
    "NothingToRollBack",
    "PermissionDenied",
    "RegisteredModelNotFound",
    "RunNotFound",
    "SchemaOutOfDate",
    "ShipyardError",
    "SignatureMismatch",
    "UnsupportedModelFormat",
    "UntrustedModel",
    "error_for_code",
]


class ShipyardError(Exception):
    """Base class: a message plus a stable wire code and HTTP status."""

    code: ClassVar[str] = "INTERNAL_ERROR"
    http_status: ClassVar[int] = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, str]:
        return {"error_code": self.code, "message": self.message}


class InvalidParameter(ShipyardError, ValueError):
    code = "INVALID_PARAMETER_VALUE"
    http_status = 400


class InvalidFilter(InvalidParameter):
    """A search filter or order-by clause that does not parse; the message names the token."""


class ImmutableParam(InvalidParameter):
    """A param logged again with a different value."""


class InactiveResource(InvalidParameter):
    """Writing to a run or experiment that is deleted (or a run that is not active)."""


class MissingRequiredTags(InvalidParameter):
    """A run finished without a tag its experiment requires."""

    def __init__(self, message: str, missing: list[str]) -> None:
        super().__init__(message)
        self.missing = missing


class InvalidPath(InvalidParameter):
    """An artifact path or URI that could reach outside its root; the message says why."""


class InvalidModel(InvalidParameter):
    """A model package that cannot be read: a missing, truncated or corrupt file; says which."""


class UnsupportedModelFormat(InvalidModel):
    """A model package written in a newer format than this Shipyard reads: upgrade Shipyard."""


class SignatureMismatch(InvalidParameter):
    """Model input that violates the model's signature; names the column and the expected type."""

    def __init__(
        self, message: str, column: str | None = None, expected: str | None = None
    ) -> None:
        super().__init__(message)
        self.column = column
        self.expected = expected


class BadRequest(ShipyardError):
    code = "BAD_REQUEST"
    http_status = 400


class NotFound(ShipyardError, LookupError):
    code = "RESOURCE_DOES_NOT_EXIST"
    http_status = 404


class ExperimentNotFound(NotFound):
    pass


class RunNotFound(NotFound):
    pass


class LoggedModelNotFound(NotFound):
    pass


class RegisteredModelNotFound(NotFound):
    pass


class ModelVersionNotFound(NotFound):
    pass


class ApprovalNotFound(NotFound):
    pass


class NothingToRollBack(InvalidParameter):
    """An alias has no earlier version in the audit trail to go back to."""


class InvalidPolicy(InvalidParameter):
    """A policy file (gates, monitoring) that does not parse or validate; ``line`` is where to
    look (1-based) when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


class EnvBuildFailed(ShipyardError):
    """A project's environment could not be built; the message carries the installer's reason."""


class PermissionDenied(ShipyardError, PermissionError):
    """The actor may not do this (approve their own request, say)."""

    code = "PERMISSION_DENIED"
    http_status = 403


class ApprovalRequired(PermissionDenied):
    """The alias is protected: moving it needs an approved request from a second actor."""


class AlreadyExists(ShipyardError):
    code = "RESOURCE_ALREADY_EXISTS"
    http_status = 400


class EndpointNotFound(ShipyardError):
    code = "ENDPOINT_NOT_FOUND"
    http_status = 404


class FeatureNotImplemented(ShipyardError, NotImplementedError):
    """A feature Shipyard does not offer (yet), such as an artifact scheme without a backend."""

    code = "NOT_IMPLEMENTED"
    http_status = 501


class SchemaOutOfDate(ShipyardError):
    """The database schema is older (or newer) than this Shipyard; run ``shipyard db upgrade``."""

    code = "TEMPORARILY_UNAVAILABLE"
    http_status = 503


class UntrustedModel(ShipyardError, PermissionError):
    """Loading this model file could run code (pickle, cloudpickle, unknown skops types) and
    nobody said its source is trusted; the message says how to (``trusted=True`` or
    ``SHIPYARD_TRUST_PICKLE=true``)."""

    code = "PERMISSION_DENIED"
    http_status = 403


class MissingDependency(ShipyardError, ImportError):
    """An optional framework a model flavor needs is not installed; names the extra to install."""


class FlushFailed(ShipyardError):
    """Buffered metrics could not be stored; ``lost`` says how many points."""

    def __init__(self, message: str, lost: int) -> None:
        super().__init__(message)
        self.lost = lost


_BY_CODE: dict[str, type[ShipyardError]] = {
    cls.code: cls
    for cls in (
        InvalidParameter,
        BadRequest,
        NotFound,
        AlreadyExists,
        EndpointNotFound,
        FeatureNotImplemented,
        PermissionDenied,
    )
}


def error_for_code(code: str, message: str) -> ShipyardError:
    """Rebuild the exception a server reported, for the REST client."""
    cls = _BY_CODE.get(code, ShipyardError)
    return cls(message)
