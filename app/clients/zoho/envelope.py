"""Turning Zoho's error answers into the typed errors of `errors.py`.

An error is recognised by the HTTP status *or* by the body, because Zoho's finance APIs report
failures with HTTP 200 and a non-zero `code`, and CRM's bodies carry `"status": "error"`.
"""

from __future__ import annotations

from typing import Any

import httpx

from app.clients.pooled import json_or_none, parse_retry_after
from app.clients.zoho.errors import (
    ZohoAPIError,
    ZohoAuthError,
    ZohoNotFoundError,
    ZohoRateLimitError,
    ZohoServerError,
)

# CRM's string codes and the finance APIs' numeric ones. Finance 57 ("Invalid Access Token"),
# 14 and 45 ("request limit") come from third-party lists, not Zoho's own error page.
# Finance 57 means "not authorized" for an expired token and for a missing scope alike; CRM
# names a missing scope or permission outright.
TOKEN_CODES: frozenset[int | str] = frozenset({"INVALID_TOKEN", "AUTHENTICATION_FAILURE", 57, 14})
SCOPE_CODES: frozenset[int | str] = frozenset({"OAUTH_SCOPE_MISMATCH", "NO_PERMISSION"})
AUTH_CODES: frozenset[int | str] = TOKEN_CODES | SCOPE_CODES
THROTTLE_CODES: frozenset[int | str] = frozenset({"TOO_MANY_REQUESTS", "LIMIT_EXCEEDED", 45})
NOT_FOUND_CODES: frozenset[int | str] = frozenset({1002})
_THROTTLE_WORDS = ("maximum number of requests", "too many requests", "rate limit exceeded")


def _finance_error_code(code: object) -> bool:
    return isinstance(code, int) and not isinstance(code, bool) and code != 0


def error_from_response(response: httpx.Response) -> ZohoAPIError | None:
    """The error this answer carries, or None when it is a success (204 included)."""
    status = response.status_code
    body = json_or_none(response)
    fields: dict[str, Any] = body if isinstance(body, dict) else {}
    code = fields.get("code")
    crm_error = str(fields.get("status", "")).lower() == "error"
    if status < 400 and not crm_error and not _finance_error_code(code):
        return None
    message = str(fields.get("message") or f"HTTP {status} {response.reason_phrase}".strip())
    kwargs: dict[str, Any] = {
        "http_status": status,
        "zoho_code": code if isinstance(code, int | str) else None,
        "body": body if body is not None else response.text[:500],
    }
    hashable_code = code if isinstance(code, int | str) else None
    if (
        status == 429
        or hashable_code in THROTTLE_CODES
        or any(words in message.lower() for words in _THROTTLE_WORDS)
    ):
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return ZohoRateLimitError(message, retry_after=retry_after, **kwargs)
    if status in (401, 403) or hashable_code in AUTH_CODES:
        return ZohoAuthError(message, **kwargs)
    if status == 404 or hashable_code in NOT_FOUND_CODES:
        return ZohoNotFoundError(message, **kwargs)
    if status >= 500:
        return ZohoServerError(message, **kwargs)
    return ZohoAPIError(message, **kwargs)


def is_scope_refusal(error: ZohoAPIError) -> bool:
    """Zoho said outright that a scope or permission is missing (CRM does; Books does not)."""
    return isinstance(error, ZohoAuthError) and error.zoho_code in SCOPE_CODES


def needs_new_token(error: ZohoAPIError) -> bool:
    """The token may have been refused for itself (expired early, revoked): a fresh one may help.

    Books' code 57 cannot tell that from a missing scope; the client decides by the token's age.
    """
    return (
        isinstance(error, ZohoAuthError)
        and not is_scope_refusal(error)
        and (error.http_status == 401 or error.zoho_code in TOKEN_CODES)
    )
