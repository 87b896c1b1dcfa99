"""The Attio client's exception tree: shallow, one class per way a call can fail.

    AttioError                      base; `retryable` says whether trying again can help
    ├── AttioTransportError         no answer: connection failure or timeout (retryable)
    └── AttioAPIError               Attio answered with its error body
                                    {status_code, type, code, message}
        ├── AttioValidationError    400: bad value, filter, unknown option... (never retried)
        ├── AttioAuthError          401/403: missing, invalid or under-scoped token
        ├── AttioNotFoundError      404: unknown object, record or attribute
        │   └── AttioMergeInProgressError  404 `merge_in_progress`: a merged record that is
        │                           not readable yet (comes right; the event is retried later)
        ├── AttioConflictError      409: retryable only for `concurrent_write_conflict`
        ├── AttioRateLimitError     429: carries `retry_after` seconds (retryable)
        └── AttioServerError        5xx (retryable)

They derive from `BridgeError` so, should one escape to an HTTP caller, the one error handler
renders it as a 502/503 without leaking details.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from app.clients.pooled import json_or_none, parse_retry_after
from app.errors import BridgeError

CONCURRENT_WRITE_CONFLICT = "concurrent_write_conflict"
MERGE_IN_PROGRESS = "merge_in_progress"


class AttioError(BridgeError):
    status_code = 502
    code = "attio_error"
    retryable: bool = False

    @property
    def permanent(self) -> bool:
        """No answer from Attio is never permanent."""
        return False


class AttioTransportError(AttioError):
    code = "attio_unreachable"
    retryable = True


class AttioAPIError(AttioError):
    """Attio answered with an error. `attio_status`, `attio_type`, `attio_code` mirror its body."""

    def __init__(
        self,
        message: str,
        *,
        attio_status: int,
        attio_type: str | None = None,
        attio_code: str | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.attio_status = attio_status
        self.attio_type = attio_type
        self.attio_code = attio_code
        self.body = body

    @property
    def permanent(self) -> bool:
        """Attio rejected what we sent (4xx), except for a rate limit."""
        return 400 <= self.attio_status < 500 and self.attio_status != 429

    def __str__(self) -> str:
        code = f" {self.attio_code}" if self.attio_code else ""
        return f"Attio {self.attio_status}{code}: {self.message}"

    @classmethod
    def from_response(
        cls, response: httpx.Response, *, now: datetime | None = None
    ) -> AttioAPIError:
        body = json_or_none(response)
        fields = body if isinstance(body, dict) else {}
        status = response.status_code
        message = str(fields.get("message") or f"HTTP {status} {response.reason_phrase}".strip())
        kwargs: dict[str, Any] = {
            "attio_status": status,
            "attio_type": fields.get("type"),
            "attio_code": fields.get("code"),
            "body": body if body is not None else response.text[:500],
        }
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("retry-after"), now=now)
            return AttioRateLimitError(message, retry_after=retry_after, **kwargs)
        if status == 404 and kwargs["attio_code"] == MERGE_IN_PROGRESS:
            return AttioMergeInProgressError(message, **kwargs)
        error_class = _BY_STATUS.get(status) or (AttioServerError if status >= 500 else cls)
        return error_class(message, **kwargs)


class AttioValidationError(AttioAPIError):
    code = "attio_rejected"


class AttioAuthError(AttioAPIError):
    code = "attio_auth"


class AttioNotFoundError(AttioAPIError):
    code = "attio_not_found"


class AttioMergeInProgressError(AttioNotFoundError):
    """Reading a record Attio is still merging. Not retried by the client (a merge can take
    longer than a request should wait); the event's retry schedule tries again."""

    code = "attio_merge_in_progress"

    @property
    def permanent(self) -> bool:
        return False  # the merged record becomes readable once Attio has finished


class AttioConflictError(AttioAPIError):
    code = "attio_conflict"

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        return self.attio_code == CONCURRENT_WRITE_CONFLICT

    @property
    def permanent(self) -> bool:
        return not self.retryable


class AttioRateLimitError(AttioAPIError):
    status_code = 503
    code = "attio_rate_limited"
    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class AttioServerError(AttioAPIError):
    code = "attio_server_error"
    retryable = True


_BY_STATUS: dict[int, type[AttioAPIError]] = {
    400: AttioValidationError,
    401: AttioAuthError,
    403: AttioAuthError,
    404: AttioNotFoundError,
    409: AttioConflictError,
}
