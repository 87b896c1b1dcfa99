"""An in-memory Zoho (accounts server, Books/Inventory items, CRM products and channels).

Served through `httpx.MockTransport`, so a real `ZohoClient` talks to it without a network:

    zoho = FakeZoho.with_items(1200)
    client = zoho.client()            # a ZohoClient on the fake, with fast test settings
    zoho.change(["2000000000007"], name="Renamed")

CRM's product list is served as CRM serves it: `fields` required (at most 50), `per_page` at
most 200, sorted by `sort_by` / `sort_order` (id, descending, unless asked), page numbers only
within the first 2,000 records, then `info.next_page_token` (tied to the query that made it,
never together with `page`), `info.more_records`, the requested fields (null when the record
has none) plus `id`, and HTTP 204 when nothing matches.

It refuses tokens as Zoho does: Books and Inventory answer HTTP 401 with code 57 ("You are not
authorized to perform this operation") both for an expired or unknown access token
(`expire_tokens()`) and for a valid token whose grant lacks the call's scope (`scopes=`); CRM
answers `INVALID_TOKEN` and `OAUTH_SCOPE_MISMATCH`. The accounts server mints at most 10
tokens per 10 minutes, then answers "too many requests" as Zoho does.

Used by the sync tests and by `bench/zoho_sync.py`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import unquote

import httpx

from app.clients.zoho import ZohoClient

ACCOUNTS_URL = "https://accounts.zoho.com"
API_DOMAIN = "https://www.zohoapis.com"
ORGANIZATION_ID = "60000000001"
FIRST_ITEM_ID = 2_000_000_000_000
FIRST_PRODUCT_ID = 5_725_767_000_000_400_000
CRM_MAX_PER_PAGE = 200
CRM_PAGE_NUMBER_LIMIT = 2000  # records reachable with `page`; beyond, only `page_token`
CRM_MAX_FIELDS = 50
CRM_SORT_FIELDS = ("id", "Created_Time", "Modified_Time")
_BASE_TIME = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
_ZOHO_OFFSET = timedelta(hours=-7)
# Zoho's own scope per API (its docs); deliberately not the bridge's table, so a wrong one shows.
BOOKS_ITEMS_SCOPE = "ZohoBooks.settings.READ"
INVENTORY_ITEMS_SCOPE = "ZohoInventory.items.READ"
CRM_PRODUCTS_SCOPE = "ZohoCRM.modules.products.READ"
CRM_NOTIFICATIONS_SCOPE = "ZohoCRM.notifications.ALL"
ALL_SCOPES = frozenset(
    {BOOKS_ITEMS_SCOPE, INVENTORY_ITEMS_SCOPE, CRM_PRODUCTS_SCOPE, CRM_NOTIFICATIONS_SCOPE}
)
_SCOPE_BY_PREFIX = (
    ("/books/v3/", BOOKS_ITEMS_SCOPE),
    ("/inventory/v1/", INVENTORY_ITEMS_SCOPE),
    ("/crm/v8/Products", CRM_PRODUCTS_SCOPE),
    ("/crm/v8/actions/watch", CRM_NOTIFICATIONS_SCOPE),
)
NOT_AUTHORIZED = {"code": 57, "message": "You are not authorized to perform this operation"}
TOKEN_LIMIT = 10  # mints per refresh token per TOKEN_WINDOW_SECONDS
TOKEN_WINDOW_SECONDS = 600.0


def zoho_time(moment: datetime) -> str:
    """Zoho's format: local time with an offset without a colon (`...-0700`)."""
    local = moment.astimezone(UTC) + _ZOHO_OFFSET
    return local.strftime("%Y-%m-%dT%H:%M:%S") + "-0700"


def crm_time(moment: datetime) -> str:
    """CRM's format: the user's local time with a colon offset (`...+05:30`)."""
    return moment.astimezone(_CRM_ZONE).isoformat(timespec="seconds")


_CRM_ZONE = timezone(timedelta(hours=5, minutes=30))


def make_crm_product(n: int) -> dict[str, Any]:
    """A CRM Products record with the standard fields, and some the bridge does not read."""
    return {
        "id": str(FIRST_PRODUCT_ID + n),
        "Product_Name": f"Product {n}",
        "Product_Code": f"CRM-{n:05d}",
        "Unit_Price": 50 + n % 20,
        "Usage_Unit": "Box",
        "Product_Active": True,
        "Description": f"Catalogue product {n}",
        "Modified_Time": crm_time(_BASE_TIME + timedelta(seconds=n)),
        "Created_Time": crm_time(_BASE_TIME),
        "Qty_in_Stock": 10.0,
        "Taxable": True,
        "Owner": {"name": "Patricia Boyle", "id": "5725767000000411001"},
    }


def _crm_error(code: str, message: str, status: int = 400, **details: Any) -> httpx.Response:
    body = {"code": code, "details": details, "message": message, "status": "error"}
    return httpx.Response(status, json=body)


def make_item(n: int) -> dict[str, Any]:
    return {
        "item_id": str(FIRST_ITEM_ID + n),
        "name": f"Service {n}",
        "status": "active",
        "description": f"Offering number {n}",
        "rate": 100 + n % 50 + 0.5,
        "unit": "hour",
        "sku": f"SVC-{n:05d}",
        "product_type": "service",
        "last_modified_time": zoho_time(_BASE_TIME + timedelta(seconds=n)),
    }


class FakeZoho:
    def __init__(
        self,
        items: list[dict[str, Any]] | None = None,
        *,
        api_domain: str = API_DOMAIN,
        page_latency: float = 0.0,
        scopes: frozenset[str] | set[str] = ALL_SCOPES,
    ) -> None:
        self.items: dict[str, dict[str, Any]] = {i["item_id"]: i for i in items or []}
        self.crm_products: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, dict[str, Any]] = {}
        self.api_domain = api_domain
        self.page_latency = page_latency
        self.calls: Counter[str] = Counter()  # "GET /books/v3/items" -> count
        self.tokens_issued = 0
        self.scopes = frozenset(scopes)  # what the refresh token was granted
        self.live_tokens: set[str] = set()  # issued and not expired
        self.mint_times: list[float] = []
        self.refusals: Counter[str] = Counter()  # "expired" / "scope" -> count
        self.fail_item_pages_from: int | None = None  # page number that answers 500 from then on
        self.unlisted: set[str] = set()  # items the list skips (it shifted while paging)
        self.fail_crm_pages_from: int | None = None  # CRM list page that answers 500 from then on
        self.crm_unlisted: set[str] = set()  # products CRM's list skips
        self.crm_list_params: list[dict[str, str]] = []  # every CRM list request's query
        self._page_tokens: dict[str, tuple[tuple[str, ...], int]] = {}  # token -> query, offset
        # A revoked or replaced refresh token: Zoho answers the grant `invalid_code`, HTTP 200.
        self.refresh_token_revoked = False
        self._clock = _BASE_TIME + timedelta(days=30)

    @classmethod
    def with_items(cls, count: int, **options: Any) -> FakeZoho:
        return cls([make_item(n) for n in range(count)], **options)

    def item_ids(self) -> list[str]:
        return list(self.items)

    def add_crm_products(self, count: int) -> FakeZoho:
        for n in range(count):
            product = make_crm_product(n)
            self.crm_products[product["id"]] = product
        return self

    def crm_product_ids(self) -> list[str]:
        return list(self.crm_products)

    def change_crm(self, product_ids: list[str], **fields: Any) -> None:
        """Edit CRM products the way CRM would: new values and a newer `Modified_Time`."""
        for product_id in product_ids:
            self._clock += timedelta(seconds=1)
            product = self.crm_products[product_id]
            product.update(fields)
            product["Modified_Time"] = crm_time(self._clock)

    def change(self, item_ids: list[str], **fields: Any) -> None:
        """Edit items the way Zoho would: new values and a newer last-modified time."""
        for item_id in item_ids:
            self._clock += timedelta(seconds=1)
            item = self.items[item_id]
            item.update(fields)
            item["last_modified_time"] = zoho_time(self._clock)

    def expire_tokens(self) -> None:
        """Every access token issued so far stops working (expired or revoked)."""
        self.live_tokens.clear()

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._handle)

    def client(self, **options: Any) -> ZohoClient:
        settings: dict[str, Any] = {
            "client_id": "1000.TESTCLIENT",
            "client_secret": "test-client-secret",
            "refresh_token": "1000.test-refresh-token",
            "accounts_url": ACCOUNTS_URL,
            "organization_id": ORGANIZATION_ID,
            "requests_per_minute": 10_000,
            "wait": lambda _state: 0.0,
            "throttle_pause": 0.0,
            "transport": self.transport(),
        }
        return ZohoClient(**{**settings, **options})

    # -- the HTTP side -----------------------------------------------------------------------

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.calls[f"{request.method} {path}"] += 1
        if request.url.host == httpx.URL(ACCOUNTS_URL).host and path == "/oauth/v2/token":
            return self._token()
        if refusal := self._refusal(request):
            return refusal
        for prefix in ("/books/v3/items", "/inventory/v1/items"):
            if path == prefix:
                return await self._item_page(request)
            if path.startswith(prefix + "/"):
                return self._item(request, unquote(path[len(prefix) + 1 :]))
        if path == "/crm/v8/Products" and request.method == "GET":
            return await self._crm_product_page(request)
        if path.startswith("/crm/v8/Products/"):
            product = self.crm_products.get(unquote(path.rsplit("/", 1)[1]))
            return httpx.Response(200, json={"data": [product]}) if product else httpx.Response(204)
        if path == "/crm/v8/actions/watch":
            return self._watch(request)
        return httpx.Response(404, json={"code": 5, "message": "Invalid URL Passed"})

    def _refusal(self, request: httpx.Request) -> httpx.Response | None:
        """Zoho's answer to a token it will not accept for this call, or None."""
        path = request.url.path
        crm = path.startswith("/crm/")
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Zoho-oauthtoken ")
        if not header.startswith("Zoho-oauthtoken ") or token not in self.live_tokens:
            self.refusals["expired"] += 1
            if crm:
                body = {"code": "INVALID_TOKEN", "message": "invalid oauth token"}
                return httpx.Response(401, json={"status": "error", **body, "details": {}})
            return httpx.Response(401, json=NOT_AUTHORIZED)
        needed = next((scope for prefix, scope in _SCOPE_BY_PREFIX if path.startswith(prefix)), "")
        if needed and needed not in self.scopes:
            self.refusals["scope"] += 1
            if crm:
                body = {"code": "OAUTH_SCOPE_MISMATCH", "message": "invalid oauth scope"}
                return httpx.Response(401, json={"status": "error", **body, "details": {}})
            return httpx.Response(401, json=NOT_AUTHORIZED)
        return None

    def _token(self) -> httpx.Response:
        now = time.monotonic()
        self.mint_times = [t for t in self.mint_times if now - t < TOKEN_WINDOW_SECONDS]
        if len(self.mint_times) >= TOKEN_LIMIT:
            body = {
                "error": "Access Denied",
                "error_description": "You have made too many requests continuously. "
                "Please try again after some time.",
                "status": "failure",
            }
            return httpx.Response(400, json=body)
        if self.refresh_token_revoked:
            return httpx.Response(200, json={"error": "invalid_code"})
        self.mint_times.append(now)
        self.tokens_issued += 1
        self.live_tokens.add(f"tok-{self.tokens_issued}")
        body = {
            "access_token": f"tok-{self.tokens_issued}",
            "api_domain": self.api_domain,
            "token_type": "Bearer",
            "expires_in": 3600,
        }
        return httpx.Response(200, json=body)

    def _organization_ok(self, request: httpx.Request) -> bool:
        return request.url.params.get("organization_id") == ORGANIZATION_ID

    async def _item_page(self, request: httpx.Request) -> httpx.Response:
        if not self._organization_ok(request):
            return httpx.Response(200, json={"code": 6041, "message": "Invalid organization"})
        page = int(request.url.params.get("page", "1"))
        per_page = int(request.url.params.get("per_page", "200"))
        if self.page_latency:
            await asyncio.sleep(self.page_latency)
        if self.fail_item_pages_from is not None and page >= self.fail_item_pages_from:
            return httpx.Response(500, json={"code": 500, "message": "Internal error"})
        items = [item for item in self.items.values() if item["item_id"] not in self.unlisted]
        chunk = items[(page - 1) * per_page : page * per_page]
        more = page * per_page < len(items)
        body = {
            "code": 0,
            "message": "success",
            "items": [dict(item) for item in chunk],
            "page_context": {"page": page, "per_page": per_page, "has_more_page": more},
        }
        return httpx.Response(200, json=body)

    def _item(self, request: httpx.Request, item_id: str) -> httpx.Response:
        if not self._organization_ok(request):
            return httpx.Response(200, json={"code": 6041, "message": "Invalid organization"})
        item = self.items.get(item_id)
        if item is None:
            return httpx.Response(404, json={"code": 1002, "message": "Item does not exist."})
        return httpx.Response(200, json={"code": 0, "message": "success", "item": dict(item)})

    async def _crm_product_page(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        self.crm_list_params.append(dict(params))
        fields = [name for name in params.get("fields", "").split(",") if name]
        if not fields:
            return _crm_error(
                "REQUIRED_PARAM_MISSING",
                "One of the expected parameter is missing",
                param_name="fields",
            )
        if len(fields) > CRM_MAX_FIELDS:
            return _crm_error("LIMIT_EXCEEDED", "Fields limit exceeded.", limit=CRM_MAX_FIELDS)
        per_page = int(params.get("per_page", str(CRM_MAX_PER_PAGE)))
        if not 1 <= per_page <= CRM_MAX_PER_PAGE:
            return _crm_error("INVALID_DATA", "invalid data", param_name="per_page")
        sort_by = params.get("sort_by", "id")
        sort_order = params.get("sort_order", "desc")
        if sort_by not in CRM_SORT_FIELDS or sort_order not in ("asc", "desc"):
            return _crm_error("INVALID_DATA", "invalid data", param_name="sort_by")
        if "page" in params and "page_token" in params:
            return _crm_error(
                "AMBIGUITY_DURING_PROCESSING",
                "You cannot use both cvid and sort_by, and page and page_token.",
            )
        query = (",".join(fields), str(per_page), sort_by, sort_order)
        if token := params.get("page_token"):
            if token not in self._page_tokens:
                return _crm_error("INVALID_DATA", "invalid data", param_name="page_token")
            bound, offset = self._page_tokens[token]
            if bound != query:
                return _crm_error(
                    "TOKEN_BOUND_DATA_MISMATCH",
                    "The given page_token does not match the other parameters.",
                )
        else:
            offset = (int(params.get("page", "1")) - 1) * per_page
            if offset + per_page > CRM_PAGE_NUMBER_LIMIT:
                return _crm_error(
                    "DISCRETE_PAGINATION_LIMIT_EXCEEDED",
                    "You can only get the first 2000 records without using page_token param.",
                    limit=CRM_PAGE_NUMBER_LIMIT,
                )
        page = offset // per_page + 1
        if self.page_latency:
            await asyncio.sleep(self.page_latency)
        if self.fail_crm_pages_from is not None and page >= self.fail_crm_pages_from:
            return _crm_error("INTERNAL_ERROR", "Internal Server Error", status=500)
        products = [p for p in self.crm_products.values() if p["id"] not in self.crm_unlisted]
        products.sort(
            key=lambda p: int(p["id"]) if sort_by == "id" else str(p.get(sort_by) or ""),
            reverse=sort_order == "desc",
        )
        chunk = products[offset : offset + per_page]
        if not chunk:
            return httpx.Response(204)
        more = offset + per_page < len(products)
        next_token = None
        if more:
            next_token = f"crm-page-token-{len(self._page_tokens) + 1}"
            self._page_tokens[next_token] = (query, offset + per_page)
        info = {
            "per_page": per_page,
            "count": len(chunk),
            "page": page,
            "sort_by": sort_by,
            "sort_order": sort_order,
            "more_records": more,
            "next_page_token": next_token,
            "previous_page_token": None,
            "page_token_expiry": crm_time(self._clock + timedelta(days=1)) if more else None,
            "call": False,
            "email": False,
        }
        data = [{"id": p["id"], **{name: p.get(name) for name in fields}} for p in chunk]
        return httpx.Response(200, json={"data": data, "info": info})

    def _watch(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            if not self.channels:
                return httpx.Response(204)
            return httpx.Response(200, json={"watch": list(self.channels.values())})
        entries = json.loads(request.content)["watch"]
        answers = []
        for entry in entries:
            channel_id = str(entry["channel_id"])
            self.channels[channel_id] = {**self.channels.get(channel_id, {}), **entry}
            answers.append(
                {
                    "code": "SUCCESS",
                    "status": "success",
                    "message": "Successfully subscribed for actions-watch of the given module",
                    "details": {
                        "events": [
                            {
                                "channel_expiry": entry["channel_expiry"],
                                "resource_name": "Products",
                                "channel_id": channel_id,
                            }
                        ]
                    },
                }
            )
        return httpx.Response(200, json={"watch": answers})


# One realistic Books item, as a webhook or the items API carries it.
ITEM = {
    "item_id": "2000000000101",
    "name": "Onboarding workshop",
    "status": "active",
    "description": "Half-day remote session",
    "rate": 250.0,
    "unit": "session",
    "sku": "SVC-ONB-1",
    "product_type": "service",
    "last_modified_time": "2026-05-02T09:14:03-0700",
}
