"""The Zoho client's exception tree, one class per way a call can fail.

    ZohoError                       base; `retryable` says whether trying again can help
    ├── ZohoNotConfiguredError      credentials or organization id missing (no call was made)
    ├── ZohoTransportError          no answer: connection failure or timeout (retryable)
    ├── ZohoTokenError              the accounts server refused to mint an access token
    │   └── ZohoTokenThrottledError "too many requests continuously": refreshes are blocked
    └── ZohoAPIError                an API answered with an error, whatever its HTTP status
        ├── ZohoAuthError           401, INVALID_TOKEN, OAUTH_SCOPE_MISMATCH, code 57/14
        │   └── ZohoScopeError      refused with a fresh token: a scope or permission is missing
        ├── ZohoNotFoundError       404, or a finance "does not exist" code
        ├── ZohoRateLimitError      429 or a throttling code (retryable)
        └── ZohoServerError         5xx (retryable)

Zoho's finance APIs (Books, Inventory) answer `{"code": <int>, "message": ...}` and use a
non-zero `code` for errors even with HTTP 200; CRM answers `{"status": "error", "code": "..."}`;
the accounts server answers `{"error": "..."}`, often with HTTP 200. All of them land here.
"""

from __future__ import annotations

from typing import Any

from app.errors import BridgeError


class ZohoError(BridgeError):
    status_code = 502
    code = "zoho_error"
    retryable: bool = False


class ZohoNotConfiguredError(ZohoError):
    # 503: the bridge cannot do this yet; a retry after the settings are fixed will work.
    status_code = 503
    code = "zoho_not_configured"


class ZohoTransportError(ZohoError):
    code = "zoho_unreachable"
    retryable = True


class ZohoTokenError(ZohoError):
    """The refresh grant failed (`invalid_client`, `invalid_code`, revoked refresh token...)."""

    code = "zoho_token_error"

    def __init__(self, message: str, *, zoho_error: str | None = None) -> None:
        super().__init__(message)
        self.zoho_error = zoho_error


class ZohoTokenThrottledError(ZohoTokenError):
    """Zoho blocks token minting for a while; the client stops asking until `retry_after`."""

    code = "zoho_token_throttled"

    def __init__(self, message: str, *, retry_after: float, zoho_error: str | None = None):
        super().__init__(message, zoho_error=zoho_error)
        self.retry_after = retry_after


class ZohoAPIError(ZohoError):
    """`http_status` is the HTTP status; `zoho_code` is the body's code (int or string)."""

    def __init__(
        self,
        message: str,
        *,
        http_status: int,
        zoho_code: int | str | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.zoho_code = zoho_code
        self.body = body

    def __str__(self) -> str:
        code = f" code {self.zoho_code}" if self.zoho_code not in (None, "") else ""
        return f"Zoho HTTP {self.http_status}{code}: {self.message}"


class ZohoAuthError(ZohoAPIError):
    code = "zoho_auth"


class ZohoScopeError(ZohoAuthError):
    """A token minted moments ago was refused too: the grant lacks a scope (or the Zoho user a
    permission). Permanent: another token from the same refresh token cannot help."""

    # A 4xx makes a ledger record of it `dead` at once: retries on a schedule cannot help.
    status_code = 403
    code = "zoho_scope_missing"
    retryable = False

    def __init__(self, message: str, *, scopes: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.scopes = scopes

    @classmethod
    def refused(
        cls, error: ZohoAPIError, *, method: str, path: str, scopes: tuple[str, ...]
    ) -> ZohoScopeError:
        needs = " or ".join(scopes) if scopes else "the scope of this API"
        message = (
            f"Zoho refused {method} {path} even with a fresh access token ({error.message}): "
            f"the refresh token lacks the OAuth scope {needs}, or the Zoho user lacks the "
            "permission. Generate a new refresh token with that scope (see docs/zoho.md) "
            "and set ZOHO_REFRESH_TOKEN"
        )
        return cls(
            message,
            scopes=scopes,
            http_status=error.http_status,
            zoho_code=error.zoho_code,
            body=error.body,
        )


class ZohoNotFoundError(ZohoAPIError):
    code = "zoho_not_found"


class ZohoRateLimitError(ZohoAPIError):
    status_code = 503
    code = "zoho_rate_limited"
    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ZohoServerError(ZohoAPIError):
    code = "zoho_server_error"
    retryable = True
