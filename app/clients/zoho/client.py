"""Async client for the few Zoho endpoints the bridge reads: items, CRM products, CRM channels.

One `httpx.AsyncClient` per process, the cached access token of `auth.py`, Zoho's error
envelopes turned into typed errors, a limiter that keeps the process under Zoho's per-minute
quota, and tenacity retries for throttling, 5xx and network failures (all calls here are
reads or idempotent channel updates, so retrying is safe).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import httpx
from tenacity import RetryCallState

from app.clients.pooled import PooledClient, json_or_none, url_segment
from app.clients.zoho.auth import AccessToken, ZohoTokenManager
from app.clients.zoho.datacenters import api_domain_for_accounts, check_data_centre
from app.clients.zoho.envelope import error_from_response, is_scope_refusal, needs_new_token
from app.clients.zoho.errors import (
    ZohoAPIError,
    ZohoNotConfiguredError,
    ZohoNotFoundError,
    ZohoRateLimitError,
    ZohoScopeError,
    ZohoTransportError,
)
from app.clients.zoho.items import ITEMS_PAGE_SIZE, ItemsSource, items_path
from app.clients.zoho.ratelimit import MinuteWindowLimiter
from app.clients.zoho.scopes import CRM_PRODUCTS_PATH, scopes_for
from app.clients.zoho.watch import WATCH_PATH, WatchChannel, WatchResult, watch_result
from app.config import Settings, secret_is_set
from app.errors import BridgeError
from app.log import get_logger

log = get_logger(__name__)

# Books and Inventory allow 100 requests per minute per organization; stay a little below.
DEFAULT_REQUESTS_PER_MINUTE = 95
CRM_PRODUCT_FIELDS = (
    "Product_Name",
    "Product_Code",
    "Unit_Price",
    "Usage_Unit",
    "Description",
    "Product_Active",
    "Modified_Time",
)
# CRM's largest page; page numbers reach only the first 2,000 records, a page token the rest.
CRM_PAGE_SIZE = 200
CRM_PAGE_NUMBER_LIMIT = 2000
_MAX_WAIT_SECONDS = 60.0
# Zoho's 429 carries no Retry-After: hold every caller back this long, on top of the backoff.
THROTTLE_PAUSE_SECONDS = 2.0


def zoho_backoff(state: RetryCallState) -> float:
    """Throttling waits long (2, 4, 8... s, capped), other failures short; both with jitter."""
    error = state.outcome.exception() if state.outcome else None
    if isinstance(error, ZohoRateLimitError):
        if error.retry_after is not None:
            return min(error.retry_after, _MAX_WAIT_SECONDS) + random.uniform(0.0, 0.5)
        ceiling = min(_MAX_WAIT_SECONDS, 2.0 * 2 ** (state.attempt_number - 1))
    else:
        ceiling = min(8.0, 0.5 * 2 ** (state.attempt_number - 1))
    return random.uniform(ceiling / 2, ceiling)


def check_zoho_settings(settings: Settings) -> None:
    """The start-up check: an unknown data centre fails now, not at the first Zoho call."""
    check_data_centre(settings.zoho_accounts_url, settings.zoho_api_base_url)


def zoho_configured(settings: Settings) -> bool:
    """Whether the API credentials are set (the organization id is checked per call)."""
    return bool(
        settings.zoho_client_id
        and secret_is_set(settings.zoho_client_secret)
        and secret_is_set(settings.zoho_refresh_token)
    )


class ZohoClient(PooledClient):
    api = "zoho"
    transport_error = ZohoTransportError

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        accounts_url: str = "https://accounts.zoho.com",
        api_base_url: str | None = None,
        organization_id: str | None = None,
        requests_per_minute: int = DEFAULT_REQUESTS_PER_MINUTE,
        timeout: float = 30.0,
        max_attempts: int = 5,
        transport: httpx.AsyncBaseTransport | None = None,
        wait: Callable[[RetryCallState], float] = zoho_backoff,
        throttle_pause: float = THROTTLE_PAUSE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        check_data_centre(accounts_url, api_base_url)
        self._http = httpx.AsyncClient(
            headers={"Accept": "application/json", "User-Agent": "attio-bridge"},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
        )
        self.tokens = ZohoTokenManager(
            self._http,
            accounts_url=accounts_url,
            client_id=client_id,
            client_secret=client_secret,
            refresh_token=refresh_token,
            clock=clock,
            sleep=sleep,
        )
        self._default_api_domain = api_domain_for_accounts(accounts_url)
        self._api_base_url = api_base_url.rstrip("/") if api_base_url else None
        self.organization_id = organization_id
        # A sliding window over a minute: never more than the quota in any 60 s.
        self.limiter = MinuteWindowLimiter(requests_per_minute, 60.0)
        self._max_attempts = max_attempts
        self._wait = wait
        self._throttle_pause = throttle_pause
        # Scope → the token a scope refusal came with: that token earns no further mint for it.
        self._refused: dict[tuple[str, ...], AccessToken] = {}

    @classmethod
    def from_settings(
        cls, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> ZohoClient:
        if not zoho_configured(settings):
            raise ZohoNotConfiguredError(
                "Zoho API access is not configured: set ZOHO_CLIENT_ID, ZOHO_CLIENT_SECRET and "
                "ZOHO_REFRESH_TOKEN (a Zoho Self Client)"
            )
        assert settings.zoho_client_secret is not None and settings.zoho_refresh_token is not None
        return cls(
            client_id=settings.zoho_client_id or "",
            client_secret=settings.zoho_client_secret.get_secret_value(),
            refresh_token=settings.zoho_refresh_token.get_secret_value(),
            accounts_url=settings.zoho_accounts_url,
            api_base_url=settings.zoho_api_base_url,
            organization_id=settings.zoho_organization_id,
            requests_per_minute=settings.zoho_requests_per_minute,
            transport=transport,
        )

    # -- transport ---------------------------------------------------------------------------

    def base_url_for(self, token: AccessToken) -> str:
        """`ZOHO_API_BASE_URL` if set, else the token's `api_domain`, else the DC's default."""
        # __init__ refused an unknown data centre without an explicit API base URL.
        base = self._api_base_url or token.api_domain or self._default_api_domain
        assert base is not None
        return base

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> dict[str, Any] | None:
        """One API call with limiting and retries: the JSON object, or None for HTTP 204."""
        return await self._with_retries(
            lambda: self._send_authorized(method, path, params=params, json=json)
        )

    async def _send_authorized(
        self, method: str, path: str, *, params: Mapping[str, Any] | None, json: Any
    ) -> dict[str, Any] | None:
        """Refused with code 57 / 401: refresh once and retry, unless the token is fresh or
        was refused for this scope already; a refusal of a fresh token is a missing scope."""
        scopes = scopes_for(path)
        token = await self.tokens.get()
        try:
            body = await self._call(token, method, path, params=params, json=json)
        except ZohoAPIError as exc:
            if is_scope_refusal(exc):
                raise self._scope_error(exc, token, method, path, scopes) from exc
            if not needs_new_token(exc):
                raise
            if self.tokens.is_fresh(token) or self._refused.get(scopes) is token:
                raise self._scope_error(exc, token, method, path, scopes) from exc
            log.warning("zoho.token.refused", path=path, code=exc.zoho_code)
            self.tokens.invalidate(token)
            token = await self.tokens.get()
            try:
                body = await self._call(token, method, path, params=params, json=json)
            except ZohoAPIError as again:
                if needs_new_token(again) or is_scope_refusal(again):
                    raise self._scope_error(again, token, method, path, scopes) from again
                raise
        self._refused.pop(scopes, None)  # granted since (a permission fixed in Zoho)
        return body

    def _scope_error(
        self,
        error: ZohoAPIError,
        token: AccessToken,
        method: str,
        path: str,
        scopes: tuple[str, ...],
    ) -> ZohoScopeError:
        self._refused[scopes] = token
        log.error("zoho.scope.missing", path=path, code=error.zoho_code, scopes=list(scopes))
        return ZohoScopeError.refused(error, method=method, path=path, scopes=scopes)

    async def _call(
        self,
        token: AccessToken,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None,
        json: Any,
    ) -> dict[str, Any] | None:
        url = f"{self.base_url_for(token)}{path}"
        headers = {"Authorization": f"Zoho-oauthtoken {token.value}"}
        response = await self._send_once(
            self.limiter, method, path, url, params=params, json=json, headers=headers
        )
        if response.status_code == 204:
            return None
        body = json_or_none(response)
        if not isinstance(body, dict):
            raise ZohoAPIError(
                "Zoho answered without a JSON object",
                http_status=response.status_code,
                body=response.text[:500],
            )
        return body

    def _error_of(self, response: httpx.Response) -> ZohoAPIError | None:
        return error_from_response(response)

    def _pause_for(self, error: BridgeError) -> float | None:
        if not isinstance(error, ZohoRateLimitError):
            return None
        return error.retry_after or self._throttle_pause

    # -- Books / Inventory items -------------------------------------------------------------

    def _organization(self) -> str:
        if not self.organization_id:
            raise ZohoNotConfiguredError(
                "ZOHO_ORGANIZATION_ID is not set; Books and Inventory need it on every call"
            )
        return self.organization_id

    async def iter_item_pages(
        self, source: ItemsSource, *, per_page: int = ITEMS_PAGE_SIZE, read_ahead: int = 1
    ) -> AsyncGenerator[list[dict[str, Any]]]:
        """Every item, a page at a time, until `page_context.has_more_page` is false.

        `read_ahead` > 1 requests that many pages at once: Zoho gives no total, so paging is
        otherwise one round trip per 200 items. Up to `read_ahead - 1` requests past the last
        page are wasted (and cancelled when still in flight).
        """
        organization = self._organization()
        path = items_path(source)

        async def fetch(page: int) -> dict[str, Any]:
            params = {"organization_id": organization, "page": page, "per_page": per_page}
            return await self.request("GET", path, params=params) or {}

        pending: deque[tuple[int, asyncio.Task[dict[str, Any]]]] = deque()
        next_page = 1
        try:
            while True:
                while len(pending) < max(1, read_ahead):
                    pending.append((next_page, asyncio.create_task(fetch(next_page))))
                    next_page += 1
                page, task = pending.popleft()
                body = await task
                items = body.get("items")
                if not isinstance(items, list):
                    raise ZohoAPIError(
                        f"Zoho's item list (page {page}) has no `items` array",
                        http_status=200,
                        body=str(body)[:500],
                    )
                yield [item for item in items if isinstance(item, dict)]
                more = (body.get("page_context") or {}).get("has_more_page")
                # An empty page that claims more would loop forever: trust the data, not the flag.
                if more not in (True, "true") or not items:
                    return
        finally:
            for _, task in pending:
                task.cancel()
            await asyncio.gather(*(task for _, task in pending), return_exceptions=True)

    async def iter_items(self, source: ItemsSource) -> AsyncIterator[dict[str, Any]]:
        async for page in self.iter_item_pages(source):
            for item in page:
                yield item

    async def get_item(self, source: ItemsSource, item_id: str) -> dict[str, Any] | None:
        """One item, or None when Zoho says it does not exist (deleted)."""
        params = {"organization_id": self._organization()}
        try:
            body = await self.request(
                "GET", f"{items_path(source)}/{url_segment(item_id)}", params=params
            )
        except ZohoNotFoundError:
            return None
        item = (body or {}).get("item")
        return item if isinstance(item, dict) else None

    # -- CRM ---------------------------------------------------------------------------------

    async def get_crm_product(self, product_id: str) -> dict[str, Any] | None:
        """One CRM Products record, or None when it does not exist (CRM answers 204 or 404)."""
        try:
            body = await self.request(
                "GET",
                f"{CRM_PRODUCTS_PATH}/{url_segment(product_id)}",
                params={"fields": ",".join(CRM_PRODUCT_FIELDS)},
            )
        except ZohoNotFoundError:
            return None
        data = (body or {}).get("data")
        if isinstance(data, list) and data and isinstance(data[0], dict):
            return data[0]
        return None

    async def iter_crm_product_pages(
        self, *, per_page: int = CRM_PAGE_SIZE
    ) -> AsyncGenerator[list[dict[str, Any]]]:
        """Every CRM Products record (the fields of `get_crm_product`), a page at a time.

        Sorted by id, ascending, so a product created while paging lands on a later page
        instead of shifting earlier ones. Once Zoho hands out `info.next_page_token` it is
        followed with the same parameters and without `page` (CRM refuses both together, and
        page numbers past 2,000 records); CRM answers 204 when there is nothing (more) to list.
        One page at a time: each token comes with the page before it.
        """
        query = {
            "fields": ",".join(CRM_PRODUCT_FIELDS),
            "per_page": per_page,
            "sort_by": "id",
            "sort_order": "asc",
        }
        page, token = 1, None
        while True:
            params = {**query, "page_token": token} if token else {**query, "page": page}
            body = await self.request("GET", CRM_PRODUCTS_PATH, params=params)
            if body is None:
                return
            data = body.get("data")
            if not isinstance(data, list):
                raise ZohoAPIError(
                    f"Zoho CRM's product list (page {page}) has no `data` array",
                    http_status=200,
                    body=str(body)[:500],
                )
            yield [record for record in data if isinstance(record, dict)]
            info = body.get("info")
            if not isinstance(info, dict):
                info = {}
            # An empty page that claims more would loop forever: trust the data, not the flag.
            if info.get("more_records") is not True or not data:
                return
            next_token = info.get("next_page_token")
            token = next_token if isinstance(next_token, str) and next_token else None
            page += 1
            if token is None and page * per_page > CRM_PAGE_NUMBER_LIMIT:
                raise ZohoAPIError(
                    "Zoho CRM lists more products than page numbers reach, without a page token",
                    http_status=200,
                    body=str(info)[:500],
                )

    async def list_watch_channels(self) -> list[dict[str, Any]]:
        """The notification channels this Zoho user has enabled (CRM answers 204 for none)."""
        body = await self.request("GET", WATCH_PATH)
        channels = (body or {}).get("watch")
        return [c for c in channels if isinstance(c, dict)] if isinstance(channels, list) else []

    async def ensure_watch(self, channel: WatchChannel) -> WatchResult:
        """Create the channel, or renew it (new expiry, same id) when it exists already."""
        existing = {str(c.get("channel_id")) for c in await self.list_watch_channels()}
        renew = channel.channel_id in existing
        body = await self.request("PATCH" if renew else "POST", WATCH_PATH, json=channel.body())
        return watch_result(body, renewed=renew)
