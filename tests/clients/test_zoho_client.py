"""The Zoho client against respx: tokens, data centres, error envelopes, paging, throttling."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs

import httpx
import pytest
import respx
from tenacity import RetryCallState

from app.clients.zoho import (
    ItemsSource,
    WatchChannel,
    ZohoAPIError,
    ZohoAuthError,
    ZohoClient,
    ZohoNotConfiguredError,
    ZohoRateLimitError,
    ZohoScopeError,
    ZohoTokenError,
    ZohoTokenThrottledError,
)
from app.clients.zoho.client import zoho_backoff
from app.clients.zoho.datacenters import trusted_api_domain
from app.clients.zoho.ratelimit import MinuteWindowLimiter
from app.errors import ConfigurationError
from app.timing import RequestTiming, current_timing

ACCOUNTS = "https://accounts.zoho.com"
API = "https://www.zohoapis.com"
ITEMS = f"{API}/books/v3/items"
ORG = "60000000001"


def token_body(value: str = "tok-1", api_domain: str | None = API, **extra: object) -> dict:
    body: dict = {"access_token": value, "token_type": "Bearer", "expires_in": 3600, **extra}
    if api_domain is not None:
        body["api_domain"] = api_domain
    return body


def items_body(items: list[dict], *, page: int = 1, more: bool = False) -> dict:
    return {
        "code": 0,
        "message": "success",
        "items": items,
        "page_context": {"page": page, "per_page": 200, "has_more_page": more},
    }


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_client(**options: object) -> ZohoClient:
    settings: dict = {
        "client_id": "1000.CLIENT",
        "client_secret": "client-secret-value",
        "refresh_token": "1000.refresh-token-value",
        "organization_id": ORG,
        "requests_per_minute": 10_000,
        "wait": lambda _state: 0.0,
        "throttle_pause": 0.0,
    }
    return ZohoClient(**{**settings, **options})  # type: ignore[arg-type]


@pytest.fixture
def zoho_api():
    with respx.mock(assert_all_called=False) as mock:
        yield mock


# -- tokens ----------------------------------------------------------------------------------


async def test_concurrent_callers_share_one_refresh(zoho_api: respx.MockRouter) -> None:
    token = zoho_api.post(f"{ACCOUNTS}/oauth/v2/token").respond(json=token_body())
    items = zoho_api.get(ITEMS).respond(json=items_body([]))
    async with make_client() as client:
        await asyncio.gather(*(client.request("GET", "/books/v3/items") for _ in range(20)))
    assert token.call_count == 1
    assert items.call_count == 20
    assert {c.request.headers["authorization"] for c in items.calls} == {"Zoho-oauthtoken tok-1"}
    form = parse_qs(token.calls[0].request.content.decode())
    assert form == {
        "grant_type": ["refresh_token"],
        "client_id": ["1000.CLIENT"],
        "client_secret": ["client-secret-value"],
        "refresh_token": ["1000.refresh-token-value"],
    }
    assert not token.calls[0].request.url.query  # the secret travels in the body, not the URL


async def test_token_is_reused_until_shortly_before_it_expires(
    zoho_api: respx.MockRouter,
) -> None:
    token = zoho_api.post(f"{ACCOUNTS}/oauth/v2/token").mock(
        side_effect=[httpx.Response(200, json=token_body(f"tok-{n}")) for n in (1, 2)]
    )
    items = zoho_api.get(ITEMS).respond(json=items_body([]))
    clock = Clock()
    async with make_client(clock=clock) as client:
        await client.request("GET", "/books/v3/items")
        clock.now += 3200  # 100 s before the 5-minute margin
        await client.request("GET", "/books/v3/items")
        assert token.call_count == 1
        clock.now += 150  # inside the margin: refresh before Zoho starts refusing it
        await client.request("GET", "/books/v3/items")
    assert token.call_count == 2
    assert items.calls[-1].request.headers["authorization"] == "Zoho-oauthtoken tok-2"


async def test_expiry_in_milliseconds_is_not_taken_for_seconds(zoho_api: respx.MockRouter) -> None:
    zoho_api.post(f"{ACCOUNTS}/oauth/v2/token").respond(json=token_body(expires_in=3_600_000))
    zoho_api.get(ITEMS).respond(json=items_body([]))
    clock = Clock()
    async with make_client(clock=clock) as client:
        await client.request("GET", "/books/v3/items")
        token = await client.tokens.get()
    assert token.expires_at - clock.now == pytest.approx(3600)


@pytest.mark.parametrize(
    ("accounts_url", "api_domain"),
    [
        ("https://accounts.zoho.com", "https://www.zohoapis.com"),
        ("https://accounts.zoho.eu", "https://www.zohoapis.eu"),
        ("https://accounts.zoho.in", "https://www.zohoapis.in"),
        ("https://accounts.zoho.com.au", "https://www.zohoapis.com.au"),
        ("https://accounts.zoho.jp", "https://www.zohoapis.jp"),
        ("https://accounts.zohocloud.ca", "https://www.zohoapis.ca"),
        ("https://accounts.zoho.uk", "https://www.zohoapis.uk"),
        ("https://accounts.zoho.sa", "https://www.zohoapis.sa"),
        ("https://accounts.zoho.com.cn", "https://www.zohoapis.com.cn"),
        ("https://accounts.zoho.ae", "https://www.zohoapis.ae"),
    ],
)
async def test_data_centre_accounts_server_and_its_api_domain(
    zoho_api: respx.MockRouter, accounts_url: str, api_domain: str
) -> None:
    # The token response lacks api_domain: the data centre's own API domain is used.
    token = zoho_api.post(f"{accounts_url}/oauth/v2/token").respond(
        json=token_body(api_domain=None)
    )
    items = zoho_api.get(f"{api_domain}/books/v3/items").respond(json=items_body([]))
    async with make_client(accounts_url=accounts_url) as client:
        await client.request("GET", "/books/v3/items")
    assert token.call_count == 1 and items.call_count == 1


def test_unknown_accounts_server_is_refused_not_sent_to_the_us() -> None:
    with pytest.raises(ConfigurationError) as caught:
        make_client(accounts_url="https://accounts.zoho.example")
    assert "ZOHO_ACCOUNTS_URL" in caught.value.message
    assert "ZOHO_API_BASE_URL" in caught.value.message
    assert "https://accounts.zoho.ae" in caught.value.message  # the known ones are listed


async def test_unknown_accounts_server_works_with_an_explicit_api_base_url(
    zoho_api: respx.MockRouter,
) -> None:
    zoho_api.post("https://accounts.zoho.example/oauth/v2/token").respond(
        json=token_body(api_domain=None)
    )
    items = zoho_api.get("https://www.zohoapis.example/books/v3/items").respond(json=items_body([]))
    client = make_client(
        accounts_url="https://accounts.zoho.example",
        api_base_url="https://www.zohoapis.example",
    )
    async with client:
        await client.request("GET", "/books/v3/items")
    assert items.call_count == 1


def test_uae_api_domain_from_a_token_response_is_trusted() -> None:
    assert trusted_api_domain("https://www.zohoapis.ae") == "https://www.zohoapis.ae"
    assert trusted_api_domain("https://www.zohoapis.ae.attacker.com") is None


async def test_api_domain_from_the_token_response_is_used(zoho_api: respx.MockRouter) -> None:
    zoho_api.post(f"{ACCOUNTS}/oauth/v2/token").respond(
        json=token_body(api_domain="https://www.zohoapis.eu")
    )
    eu = zoho_api.get("https://www.zohoapis.eu/books/v3/items").respond(json=items_body([]))
    async with make_client() as client:
        await client.request("GET", "/books/v3/items")
    assert eu.call_count == 1


async def test_api_base_url_setting_overrides_api_domain(zoho_api: respx.MockRouter) -> None:
    zoho_api.post(f"{ACCOUNTS}/oauth/v2/token").respond(
        json=token_body(api_domain="https://www.zohoapis.eu")
    )
    proxy = zoho_api.get("https://zoho-proxy.internal/books/v3/items").respond(json=items_body([]))
    async with make_client(api_base_url="https://zoho-proxy.internal/") as client:
        await client.request("GET", "/books/v3/items")
    assert proxy.call_count == 1


async def test_api_domain_that_is_not_zoho_is_ignored(zoho_api: respx.MockRouter) -> None:
    zoho_api.post(f"{ACCOUNTS}/oauth/v2/token").respond(
        json=token_body(api_domain="https://attacker.example.com")
    )
    items = zoho_api.get(ITEMS).respond(json=items_body([]))
    async with make_client() as client:
        await client.request("GET", "/books/v3/items")
    assert items.call_count == 1


async def test_token_error_with_http_200_is_a_typed_error(zoho_api: respx.MockRouter) -> None:
    token = zoho_api.post(f"{ACCOUNTS}/oauth/v2/token").respond(json={"error": "invalid_client"})
    items = zoho_api.get(ITEMS).respond(json=items_body([]))
    async with make_client() as client:
        with pytest.raises(ZohoTokenError, match="invalid_client") as caught:
            await client.request("GET", "/books/v3/items")
    assert caught.value.zoho_error == "invalid_client"
    assert token.call_count == 1  # not retried: a wrong secret stays wrong
    assert items.call_count == 0


async def test_token_throttling_stops_further_refreshes(zoho_api: respx.MockRouter) -> None:
    token = zoho_api.post(f"{ACCOUNTS}/oauth/v2/token").respond(
        json={
            "error": "Access Denied",
            "error_description": "You have made too many requests continuously. "
            "Please try again after some time.",
            "status": "failure",
        }
    )
    async with make_client() as client:
        for _ in range(3):
            with pytest.raises(ZohoTokenThrottledError) as caught:
                await client.request("GET", "/books/v3/items")
    assert caught.value.retry_after > 0
    assert token.call_count == 1  # asking again would only extend Zoho's block


async def test_refused_access_token_is_refreshed_once_and_retried(
    zoho_api: respx.MockRouter,
) -> None:
    clock = Clock()
    token = zoho_api.post(f"{ACCOUNTS}/oauth/v2/token").mock(
        side_effect=[httpx.Response(200, json=token_body(f"tok-{n}")) for n in (1, 2)]
    )
    items = zoho_api.get(ITEMS).mock(
        side_effect=[
            httpx.Response(200, json=items_body([])),
            httpx.Response(401, json={"code": 57, "message": "Invalid Access Token"}),
            httpx.Response(200, json=items_body([])),
        ]
    )
    async with make_client(clock=clock) as client:
        await client.request("GET", "/books/v3/items")
        clock.now += 600  # revoked ten minutes later, long before its expiry
        await client.request("GET", "/books/v3/items")
    assert token.call_count == 2
    assert items.calls[-1].request.headers["authorization"] == "Zoho-oauthtoken tok-2"


async def test_scope_mismatch_is_not_retried(zoho_api: respx.MockRouter) -> None:
    zoho_api.post(f"{ACCOUNTS}/oauth/v2/token").respond(json=token_body())
    products = zoho_api.get(f"{API}/crm/v8/Products/1").respond(
        401,
        json={"status": "error", "code": "OAUTH_SCOPE_MISMATCH", "message": "invalid oauth scope"},
    )
    async with make_client() as client:
        with pytest.raises(ZohoScopeError, match=r"ZohoCRM\.modules\.products\.READ") as caught:
            await client.get_crm_product("1")
    assert isinstance(caught.value, ZohoAuthError) and not caught.value.retryable
    assert products.call_count == 1  # CRM names the missing scope: a new token cannot help
    assert client.tokens.refreshes == 1


# -- error envelopes -------------------------------------------------------------------------


async def test_finance_error_with_http_200_is_an_error(zoho_api: respx.MockRouter) -> None:
    zoho_api.post(f"{ACCOUNTS}/oauth/v2/token").respond(json=token_body())
    items = zoho_api.get(ITEMS).respond(
        200, json={"code": 1001, "message": "Organization does not exist"}
    )
    async with make_client() as client:
        with pytest.raises(ZohoAPIError) as caught:
            await client.request("GET", "/books/v3/items")
    assert caught.value.http_status == 200
    assert caught.value.zoho_code == 1001
    assert "Organization does not exist" in str(caught.value)
    assert items.call_count == 1


async def test_crm_error_envelope_is_an_error(zoho_api: respx.MockRouter) -> None:
    zoho_api.post(f"{ACCOUNTS}/oauth/v2/token").respond(json=token_body())
    zoho_api.get(f"{API}/crm/v8/Products/9").respond(
        400, json={"status": "error", "code": "INVALID_DATA", "message": "bad", "details": {}}
    )
    async with make_client() as client:
        with pytest.raises(ZohoAPIError) as caught:
            await client.get_crm_product("9")
    assert caught.value.zoho_code == "INVALID_DATA"


async def test_server_errors_are_retried(zoho_api: respx.MockRouter) -> None:
    zoho_api.post(f"{ACCOUNTS}/oauth/v2/token").respond(json=token_body())
    items = zoho_api.get(ITEMS).mock(
        side_effect=[
            httpx.Response(503, text="Service Unavailable"),
            httpx.ConnectError("reset"),
            httpx.Response(200, json=items_body([])),
        ]
    )
    async with make_client() as client:
        assert await client.request("GET", "/books/v3/items") == items_body([])
    assert items.call_count == 3


async def test_missing_organization_id_fails_before_any_call(zoho_api: respx.MockRouter) -> None:
    token = zoho_api.post(f"{ACCOUNTS}/oauth/v2/token").respond(json=token_body())
    async with make_client(organization_id=None) as client:
        with pytest.raises(ZohoNotConfiguredError, match="ZOHO_ORGANIZATION_ID"):
            await anext(aiter(client.iter_item_pages(ItemsSource.books)))
    assert token.call_count == 0


# -- paging ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "path"),
    [(ItemsSource.books, "/books/v3/items"), (ItemsSource.inventory, "/inventory/v1/items")],
)
async def test_items_are_paged_until_has_more_page_is_false(
    zoho_api: respx.MockRouter, source: ItemsSource, path: str
) -> None:
    zoho_api.post(f"{ACCOUNTS}/oauth/v2/token").respond(json=token_body())
    pages = [
        items_body([{"item_id": "1"}, {"item_id": "2"}], page=1, more=True),
        items_body([{"item_id": "3"}, {"item_id": "4"}], page=2, more=True),
        items_body([{"item_id": "5"}], page=3, more=False),
    ]
    route = zoho_api.get(f"{API}{path}").mock(
        side_effect=[httpx.Response(200, json=p) for p in pages]
    )
    async with make_client() as client:
        ids = [item["item_id"] async for item in client.iter_items(source)]
    assert ids == ["1", "2", "3", "4", "5"]
    params = [dict(call.request.url.params) for call in route.calls]
    assert params == [
        {"organization_id": ORG, "page": str(n), "per_page": "200"} for n in (1, 2, 3)
    ]


async def test_pages_can_be_read_ahead_and_arrive_in_order(zoho_api: respx.MockRouter) -> None:
    zoho_api.post(f"{ACCOUNTS}/oauth/v2/token").respond(json=token_body())
    last = 5

    def page(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params["page"])
        items = [{"item_id": str(number)}] if number <= last else []
        return httpx.Response(200, json=items_body(items, page=number, more=number < last))

    route = zoho_api.get(ITEMS).mock(side_effect=page)
    async with make_client() as client:
        pages = [p async for p in client.iter_item_pages(ItemsSource.books, read_ahead=3)]
    assert [p[0]["item_id"] for p in pages] == ["1", "2", "3", "4", "5"]
    assert last <= route.call_count <= last + 2


async def test_an_empty_page_ends_paging_whatever_the_flag_says(
    zoho_api: respx.MockRouter,
) -> None:
    zoho_api.post(f"{ACCOUNTS}/oauth/v2/token").respond(json=token_body())
    route = zoho_api.get(ITEMS).respond(json=items_body([], more=True))
    async with make_client() as client:
        assert [i async for i in client.iter_items(ItemsSource.books)] == []
    assert route.call_count == 1


async def test_get_item_answers_none_when_the_item_is_gone(zoho_api: respx.MockRouter) -> None:
    zoho_api.post(f"{ACCOUNTS}/oauth/v2/token").respond(json=token_body())
    zoho_api.get(f"{ITEMS}/404").respond(404, json={"code": 1002, "message": "does not exist"})
    zoho_api.get(f"{ITEMS}/7").respond(json={"code": 0, "item": {"item_id": "7"}})
    async with make_client() as client:
        assert await client.get_item(ItemsSource.books, "404") is None
        assert await client.get_item(ItemsSource.books, "7") == {"item_id": "7"}


async def test_crm_product_by_id(zoho_api: respx.MockRouter) -> None:
    zoho_api.post(f"{ACCOUNTS}/oauth/v2/token").respond(json=token_body())
    found = zoho_api.get(f"{API}/crm/v8/Products/5725767000000412001").respond(
        json={"data": [{"id": "5725767000000412001", "Product_Name": "Workshop"}]}
    )
    zoho_api.get(f"{API}/crm/v8/Products/1").respond(204)
    async with make_client() as client:
        product = await client.get_crm_product("5725767000000412001")
        assert product == {"id": "5725767000000412001", "Product_Name": "Workshop"}
        assert await client.get_crm_product("1") is None
    fields = found.calls[0].request.url.params["fields"].split(",")
    assert "Product_Name" in fields and "Modified_Time" in fields


# -- throttling ------------------------------------------------------------------------------


async def test_429_backs_off_and_retries(zoho_api: respx.MockRouter) -> None:
    zoho_api.post(f"{ACCOUNTS}/oauth/v2/token").respond(json=token_body())
    items = zoho_api.get(ITEMS).mock(
        side_effect=[
            httpx.Response(429, text="Rate Limit Exceeded"),
            httpx.Response(429, text="Rate Limit Exceeded"),
            httpx.Response(200, json=items_body([])),
        ]
    )
    waits: list[type[BaseException]] = []

    def record_wait(state: RetryCallState) -> float:
        assert state.outcome is not None
        waits.append(type(state.outcome.exception()))
        return 0.0

    paused: list[float] = []
    async with make_client(wait=record_wait) as client:
        client.limiter.pause = paused.append  # type: ignore[method-assign]
        await client.request("GET", "/books/v3/items")
    # Each 429 also held every caller back (Zoho sends no Retry-After).
    assert len(paused) == 2
    assert items.call_count == 3
    assert waits == [ZohoRateLimitError, ZohoRateLimitError]


async def test_throttling_codes_are_rate_limits_too(zoho_api: respx.MockRouter) -> None:
    zoho_api.post(f"{ACCOUNTS}/oauth/v2/token").respond(json=token_body())
    products = zoho_api.get(f"{API}/crm/v8/Products/1").mock(
        side_effect=[
            httpx.Response(
                200,
                json={"status": "error", "code": "TOO_MANY_REQUESTS", "message": "slow down"},
            ),
            httpx.Response(200, json={"data": [{"id": "1"}]}),
        ]
    )
    async with make_client() as client:
        assert await client.get_crm_product("1") == {"id": "1"}
    assert products.call_count == 2


async def test_persistent_throttling_gives_up_with_a_typed_error(
    zoho_api: respx.MockRouter,
) -> None:
    zoho_api.post(f"{ACCOUNTS}/oauth/v2/token").respond(json=token_body())
    items = zoho_api.get(ITEMS).respond(429, text="Rate Limit Exceeded")
    async with make_client(max_attempts=3) as client:
        with pytest.raises(ZohoRateLimitError):
            await client.request("GET", "/books/v3/items")
    assert items.call_count == 3


def test_backoff_is_long_for_throttling_and_short_otherwise() -> None:
    def wait_after(error: BaseException, attempt: int) -> float:
        state = RetryCallState(None, None, (), {})  # type: ignore[arg-type]
        state.attempt_number = attempt
        state.set_exception((type(error), error, None))
        return zoho_backoff(state)

    throttled = ZohoRateLimitError("slow", http_status=429)
    assert 1.0 <= wait_after(throttled, 1) <= 2.0
    assert 4.0 <= wait_after(throttled, 3) <= 8.0
    assert wait_after(throttled, 10) <= 60.0
    told = ZohoRateLimitError("slow", http_status=429, retry_after=7.0)
    assert 7.0 <= wait_after(told, 1) <= 7.5
    assert wait_after(ZohoAPIError("x", http_status=503), 1) <= 0.5


async def test_limiter_allows_at_most_the_quota_per_minute() -> None:
    now = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = MinuteWindowLimiter(3, 60.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        await limiter.acquire()  # a burst within the quota does not wait
    assert slept == []
    now[0] = 10.0
    await limiter.acquire()
    assert slept == [50.0]  # the fourth waits until the first leaves the window


def test_client_limiter_defaults_below_zohos_quota() -> None:
    client = ZohoClient(client_id="c", client_secret="s", refresh_token="r")
    assert client.limiter.max_calls <= 100 and client.limiter.period == 60.0


# -- notification channels -------------------------------------------------------------------


def channel() -> WatchChannel:
    from datetime import UTC, datetime, timedelta

    return WatchChannel.expiring_in(
        timedelta(days=6),
        channel_id="1000000068001",
        notify_url="https://bridge.example.com/webhooks/zoho/crm",
        token="channel-token-0123456789",
        now=datetime(2026, 5, 1, tzinfo=UTC),
    )


def watch_ok(expiry: str) -> dict:
    return {
        "watch": [
            {
                "code": "SUCCESS",
                "status": "success",
                "message": "Successfully subscribed for actions-watch of the given module",
                "details": {"events": [{"channel_expiry": expiry, "channel_id": "1000000068001"}]},
            }
        ]
    }


async def test_watch_creates_a_missing_channel(zoho_api: respx.MockRouter) -> None:
    zoho_api.post(f"{ACCOUNTS}/oauth/v2/token").respond(json=token_body())
    zoho_api.get(f"{API}/crm/v8/actions/watch").respond(204)
    create = zoho_api.post(f"{API}/crm/v8/actions/watch").respond(
        json=watch_ok("2026-05-07T00:00:00+00:00")
    )
    async with make_client() as client:
        result = await client.ensure_watch(channel())
    assert not result.renewed
    assert result.channel_expiry == "2026-05-07T00:00:00+00:00"
    sent = create.calls[0].request
    import json

    entry = json.loads(sent.content)["watch"][0]
    assert entry["channel_id"] == 1000000068001
    assert entry["events"] == ["Products.all"]
    assert entry["channel_expiry"] == "2026-05-07T00:00:00+00:00"
    assert entry["token"] == "channel-token-0123456789"


async def test_watch_renews_an_existing_channel(zoho_api: respx.MockRouter) -> None:
    zoho_api.post(f"{ACCOUNTS}/oauth/v2/token").respond(json=token_body())
    zoho_api.get(f"{API}/crm/v8/actions/watch").respond(
        json={"watch": [{"channel_id": "1000000068001", "events": ["Products.all"]}]}
    )
    renew = zoho_api.patch(f"{API}/crm/v8/actions/watch").respond(
        json=watch_ok("2026-05-07T00:00:00+00:00")
    )
    async with make_client() as client:
        result = await client.ensure_watch(channel())
    assert result.renewed and renew.call_count == 1


async def test_watch_entry_error_is_raised(zoho_api: respx.MockRouter) -> None:
    zoho_api.post(f"{ACCOUNTS}/oauth/v2/token").respond(json=token_body())
    zoho_api.get(f"{API}/crm/v8/actions/watch").respond(204)
    zoho_api.post(f"{API}/crm/v8/actions/watch").respond(
        json={"watch": [{"code": "INVALID_DATA", "status": "error", "message": "bad url"}]}
    )
    async with make_client() as client:
        with pytest.raises(ZohoAPIError, match="bad url") as caught:
            await client.ensure_watch(channel())
    assert caught.value.zoho_code == "INVALID_DATA"


def test_channel_expiry_stays_under_zohos_one_week_maximum() -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 5, 1, tzinfo=UTC)
    long = WatchChannel.expiring_in(
        timedelta(days=30), channel_id="1", notify_url="u", token="t", now=now
    )
    assert long.expires_at - now < timedelta(days=7)


async def test_zoho_calls_count_as_a_zoho_wait_of_the_request_served(
    zoho_api: respx.MockRouter,
) -> None:
    zoho_api.post(f"{ACCOUNTS}/oauth/v2/token").respond(json=token_body())
    zoho_api.get(f"{ITEMS}/7").respond(json={"code": 0, "item": {"item_id": "7"}})
    timing = RequestTiming()
    current_timing.set(timing)  # as the request middleware does
    async with make_client() as client:
        await client.get_item(ItemsSource.books, "7")
    assert set(timing.waits) == {"zoho"}  # the token refresh is not the items API
    assert timing.waits["zoho"] > 0
