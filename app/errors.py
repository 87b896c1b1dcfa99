"""The bridge's own error base.

Every error the bridge raises on purpose derives from `BridgeError`. One exception handler
(`app.main`) renders them all as ``{"error": <code>, "detail": <message>}`` with the class's
HTTP status, so client mistakes never become a 500 and never carry a stack trace. Whether
an error is worth retrying is the error's own `permanent` (an API client's errors say it from
the API's answer); `is_permanent` and `describe` are what the ledger and the syncs use.
"""

from __future__ import annotations


class BridgeError(Exception):
    """Base class. `status_code` is what an HTTP caller sees; `code` is a stable machine name."""

    status_code: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, *, status_code: int | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        if code is not None:
            self.code = code

    @property
    def permanent(self) -> bool:
        """Whether no retry can fix it: by default, a request or event that is itself wrong."""
        return 400 <= self.status_code < 500


def is_permanent(error: BaseException) -> bool:
    """Errors no retry can fix: an API rejecting what we sent, or an event we cannot use.

    Everything else (timeouts, 5xx, 429, write conflicts, unexpected bugs) is transient: the
    retry schedule gives a fix or a recovery time to land before the event is declared dead.
    """
    return isinstance(error, BridgeError) and error.permanent


def describe(error: BaseException) -> str:
    """An error as one line for a log, a ledger record or a report."""
    if isinstance(error, TimeoutError):
        return "TimeoutError: processing exceeded the time budget"
    return f"{type(error).__name__}: {error}"


class ConfigurationError(BridgeError):
    """Settings that make it unsafe to start (raised at startup, never per request)."""

    code = "configuration_error"


class BadRequestError(BridgeError):
    status_code = 400
    code = "bad_request"


class MalformedPayloadError(BadRequestError):
    """A correctly signed body that cannot be parsed or lacks what the bridge needs."""

    code = "malformed_payload"


class UnauthorizedError(BridgeError):
    status_code = 401
    code = "unauthorized"


class SignatureError(UnauthorizedError):
    """A webhook whose signature is missing or does not match the raw body."""

    code = "invalid_signature"


class NotFoundError(BridgeError):
    status_code = 404
    code = "not_found"


class RequestTimeoutError(BridgeError):
    """The body did not arrive within the body-read deadline (a slow or stalled sender)."""

    status_code = 408
    code = "request_timeout"


class PayloadTooLargeError(BridgeError):
    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaTypeError(BridgeError):
    status_code = 415
    code = "unsupported_media_type"


class ServiceUnavailableError(BridgeError):
    """The bridge cannot take responsibility for a request now; the sender should retry."""

    status_code = 503
    code = "service_unavailable"
