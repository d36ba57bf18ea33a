"""AWS error helpers: one place that reads a ClientError's code and kind.

botocore is not imported here: the app paints before it loads (issue 16), and
until some module has imported it no exception can be one of its own, so each
helper looks its classes up in `sys.modules` as it is called.
"""

from __future__ import annotations

import sys
from types import ModuleType

RETRYABLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "PriorRequestNotComplete",
        "ServiceUnavailable",
        "InternalFailure",
        "InternalError",
        "RequestTimeout",
    }
)


ACCESS_DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "AuthorizationError",
        "UnauthorizedException",
        "NotAuthorized",
        "AccessDeniedFault",  # DMS
    }
)


def _botocore_errors() -> ModuleType | None:
    return sys.modules.get("botocore.exceptions")


def is_client_error(exc: BaseException) -> bool:
    """An error the service answered with (botocore's ClientError)."""
    errors = _botocore_errors()
    return errors is not None and isinstance(exc, errors.ClientError)


def is_botocore_error(exc: BaseException) -> bool:
    """An error of botocore's own, raised before or without an answer (BotoCoreError)."""
    errors = _botocore_errors()
    return errors is not None and isinstance(exc, errors.BotoCoreError)


def is_unreachable(exc: BaseException) -> bool:
    """The endpoint could not be connected to (no network, wrong region or endpoint)."""
    errors = _botocore_errors()
    return errors is not None and isinstance(exc, errors.EndpointConnectionError)


def error_code(exc: BaseException) -> str:
    """The service's error code, or "" for anything that is not a ClientError."""
    if is_client_error(exc):
        return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
    return ""


def http_status(exc: BaseException) -> int:
    if is_client_error(exc):
        metadata = getattr(exc, "response", {}).get("ResponseMetadata", {})
        return int(metadata.get("HTTPStatusCode", 0) or 0)
    return 0


def is_access_denied(exc: BaseException) -> bool:
    return error_code(exc) in ACCESS_DENIED_CODES


def is_retryable(exc: BaseException) -> bool:
    errors = _botocore_errors()
    if errors is None:
        return False
    if isinstance(exc, errors.ConnectionError | errors.HTTPClientError | errors.ReadTimeoutError):
        return True  # connection refused/reset, read/connect timeouts
    if isinstance(exc, errors.ClientError):
        return error_code(exc) in RETRYABLE_CODES or http_status(exc) >= 500
    return False
