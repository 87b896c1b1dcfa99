"""Access tokens from Zoho's OAuth refresh grant, cached and refreshed once for every caller.

Zoho lets one refresh token mint at most 10 access tokens per 10 minutes and then blocks minting
for a while, so a refresh per request (or per concurrent request) takes the integration down.
Here one token is cached until shortly before it expires; when it must be replaced, the first
caller refreshes under a lock while the others wait for and reuse its result, and two mints are
never closer than `min_interval` seconds, whatever made the tokens unusable.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from app.clients.pooled import json_or_none
from app.clients.zoho.datacenters import trusted_api_domain
from app.clients.zoho.errors import (
    ZohoServerError,
    ZohoTokenError,
    ZohoTokenThrottledError,
    ZohoTransportError,
)
from app.log import get_logger

log = get_logger(__name__)

DEFAULT_LIFETIME_SECONDS = 3600.0
REFRESH_MARGIN_SECONDS = 300.0
# Zoho's block after "too many requests" reportedly lasts 15-30 minutes; asking again sooner
# only extends it, so every caller fails fast until this has passed.
THROTTLE_COOLDOWN_SECONDS = 600.0
_THROTTLE_WORDS = ("access denied", "too many requests")
# Zoho allows about 10 mints per 10 minutes; however tokens get refused, ask at most this often.
MIN_MINT_INTERVAL_SECONDS = 5.0
# A token refused within this long of being minted was refused for its scope, not its age.
FRESH_TOKEN_SECONDS = 30.0


@dataclass(frozen=True)
class AccessToken:
    value: str
    api_domain: str | None  # the trusted `api_domain` of the response, if it carried one
    expires_at: float  # on the manager's clock
    refresh_at: float  # when callers stop using it and ask for a new one
    minted_at: float = float("-inf")


def _lifetime(body: dict[str, Any]) -> float:
    """Seconds the token lives. Older responses gave `expires_in` in milliseconds."""
    raw = body.get("expires_in_sec", body.get("expires_in"))
    try:
        seconds = float(raw)  # type: ignore[arg-type]  # None and junk land in the except
    except (TypeError, ValueError):
        return DEFAULT_LIFETIME_SECONDS
    if seconds > 86_400:  # no Zoho token lives a day: this is milliseconds
        seconds /= 1000
    return seconds if seconds > 0 else DEFAULT_LIFETIME_SECONDS


class ZohoTokenManager:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        accounts_url: str,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        refresh_margin: float = REFRESH_MARGIN_SECONDS,
        throttle_cooldown: float = THROTTLE_COOLDOWN_SECONDS,
        min_interval: float = MIN_MINT_INTERVAL_SECONDS,
        fresh_for: float = FRESH_TOKEN_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._http = http
        self._token_url = f"{accounts_url.rstrip('/')}/oauth/v2/token"
        self._form = {
            "grant_type": "refresh_token",
            "client_id": client_id,
            "client_secret": client_secret,
            "refresh_token": refresh_token,
        }
        self._margin = refresh_margin
        self._cooldown = throttle_cooldown
        self._min_interval = min_interval
        self._fresh_for = fresh_for
        self._clock = clock
        self._sleep = sleep
        self._current: AccessToken | None = None
        self._blocked_until = float("-inf")
        self._last_mint_at = float("-inf")  # the last request to the token endpoint
        self._lock = asyncio.Lock()
        self.refreshes = 0  # tokens minted by this process (tests and logs read it)

    def _usable(self, token: AccessToken | None) -> AccessToken | None:
        return token if token is not None and self._clock() < token.refresh_at else None

    async def get(self) -> AccessToken:
        """A valid access token, refreshing it first when it is missing or about to expire."""
        if token := self._usable(self._current):
            return token
        async with self._lock:
            # Whoever held the lock before us may have refreshed already.
            if token := self._usable(self._current):
                return token
            self._current = await self._refresh()
            return self._current

    def is_fresh(self, token: AccessToken) -> bool:
        """Minted so recently that a refusal cannot be its expiry."""
        return self._clock() - token.minted_at < self._fresh_for

    def invalidate(self, token: AccessToken) -> None:
        """Zoho refused `token`: drop it, unless a concurrent caller already replaced it."""
        if self._current is token:
            self._current = None

    async def _refresh(self) -> AccessToken:
        # Under the lock: the callers behind this one wait too, then reuse what it minted.
        wait = self._last_mint_at + self._min_interval - self._clock()
        if wait > 0:
            log.info("zoho.token.mint_spaced", wait_seconds=round(wait, 2))
            await self._sleep(wait)
        now = self._clock()
        if now < self._blocked_until:
            raise ZohoTokenThrottledError(
                "Zoho is blocking new access tokens for this refresh token; not asking again yet",
                retry_after=self._blocked_until - now,
            )
        self._last_mint_at = now
        try:
            # Form body, not query parameters: the client secret stays out of URLs and logs.
            response = await self._http.post(self._token_url, data=self._form)
        except httpx.TransportError as exc:
            raise ZohoTransportError(f"Could not reach Zoho accounts: {exc}") from exc
        body = json_or_none(response)
        fields: dict[str, Any] = body if isinstance(body, dict) else {}
        value = fields.get("access_token")
        if isinstance(value, str) and value:
            return self._accept(fields, value)
        # Zoho reports token errors with HTTP 200 as often as with 4xx.
        error = str(fields.get("error") or "")
        description = str(fields.get("error_description") or "")
        if any(word in f"{error} {description}".lower() for word in _THROTTLE_WORDS):
            self._blocked_until = now + self._cooldown
            log.error("zoho.token.throttled", retry_after_seconds=self._cooldown)
            raise ZohoTokenThrottledError(
                f"Zoho refused a new access token: {description or error}",
                retry_after=self._cooldown,
                zoho_error=error or None,
            )
        if response.status_code >= 500:
            raise ZohoServerError(
                "Zoho accounts failed to answer the refresh grant",
                http_status=response.status_code,
                body=body,
            )
        raise ZohoTokenError(
            f"Zoho refused the refresh grant ({error or f'HTTP {response.status_code}'}); "
            "check ZOHO_CLIENT_ID, ZOHO_CLIENT_SECRET, ZOHO_REFRESH_TOKEN and ZOHO_ACCOUNTS_URL "
            "(tokens belong to one data centre)",
            zoho_error=error or None,
        )

    def _accept(self, fields: dict[str, Any], value: str) -> AccessToken:
        now = self._clock()
        lifetime = _lifetime(fields)
        margin = min(self._margin, lifetime / 2)
        api_domain = trusted_api_domain(fields.get("api_domain"))
        if fields.get("api_domain") and api_domain is None:
            log.warning("zoho.token.untrusted_api_domain", api_domain=str(fields["api_domain"]))
        self.refreshes += 1
        log.info("zoho.token.refreshed", expires_in_seconds=round(lifetime), api_domain=api_domain)
        return AccessToken(
            value=value,
            api_domain=api_domain,
            expires_at=now + lifetime,
            refresh_at=now + lifetime - margin,
            minted_at=now,
        )
