"""Code 57 against the fake Zoho: an expired token earns one refresh, a missing scope none.

Zoho Books answers HTTP 401 `{"code": 57, "message": "You are not authorized to perform this
operation"}` both for an expired token and for a valid token without the call's scope, and
mints at most 10 tokens per 10 minutes; the fake does the same.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime

import httpx
import pytest
import respx

from app.clients.zoho import (
    ItemsSource,
    WatchChannel,
    ZohoClient,
    ZohoScopeError,
    ZohoTokenThrottledError,
    scopes_for,
)
from app.clients.zoho.auth import MIN_MINT_INTERVAL_SECONDS
from testkit.fake_zoho import (
    ACCOUNTS_URL,
    BOOKS_ITEMS_SCOPE,
    CRM_NOTIFICATIONS_SCOPE,
    CRM_PRODUCTS_SCOPE,
    INVENTORY_ITEMS_SCOPE,
    FakeZoho,
)


class Clock:
    """The client's clock; its sleeps move it forward instead of waiting."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def client_of(zoho: FakeZoho, clock: Clock) -> ZohoClient:
    return zoho.client(clock=clock, sleep=clock.sleep)


async def test_expired_token_is_refreshed_once_and_the_call_succeeds() -> None:
    zoho, clock = FakeZoho.with_items(2), Clock()
    async with client_of(zoho, clock) as client:
        assert await client.get_item(ItemsSource.books, zoho.item_ids()[0])
        clock.now += 600
        zoho.expire_tokens()  # revoked or expired early: Zoho answers code 57
        assert await client.get_item(ItemsSource.books, zoho.item_ids()[1])
    assert zoho.tokens_issued == 2
    assert zoho.refusals == {"expired": 1}


async def test_concurrent_refusals_of_an_expired_token_share_one_refresh() -> None:
    zoho, clock = FakeZoho.with_items(20), Clock()
    async with client_of(zoho, clock) as client:
        await client.get_item(ItemsSource.books, zoho.item_ids()[0])
        clock.now += 600
        zoho.expire_tokens()
        found = await asyncio.gather(
            *(client.get_item(ItemsSource.books, item_id) for item_id in zoho.item_ids())
        )
    assert all(found)
    assert zoho.tokens_issued == 2


async def test_missing_scope_is_a_permanent_error_naming_it_without_a_second_mint() -> None:
    zoho, clock = FakeZoho.with_items(1, scopes={CRM_PRODUCTS_SCOPE}), Clock()
    async with client_of(zoho, clock) as client:
        with pytest.raises(ZohoScopeError) as caught:
            await client.get_item(ItemsSource.books, zoho.item_ids()[0])
    error = caught.value
    assert error.scopes == (BOOKS_ITEMS_SCOPE,)
    assert BOOKS_ITEMS_SCOPE in error.message and "ZOHO_REFRESH_TOKEN" in error.message
    assert error.http_status == 401 and error.zoho_code == 57
    assert not error.retryable and 400 <= error.status_code < 500  # the ledger's `dead`
    assert zoho.tokens_issued == 1  # the token was seconds old: its age is not the problem
    assert zoho.refusals == {"scope": 1}


async def test_a_missing_scope_never_locks_the_healthy_calls_out() -> None:
    # Before: every refusal minted a token; after ten, Zoho refused minting for everyone.
    zoho, clock = FakeZoho.with_items(1, scopes={CRM_PRODUCTS_SCOPE}), Clock()
    zoho.crm_products["5725767000000412001"] = {"id": "5725767000000412001", "Product_Name": "W"}
    async with client_of(zoho, clock) as client:
        await client.get_crm_product("5725767000000412001")
        for _ in range(50):
            clock.now += 45  # the token is no longer fresh when each failing call comes
            with pytest.raises(ZohoScopeError):
                await client.get_item(ItemsSource.books, zoho.item_ids()[0])
            assert await client.get_crm_product("5725767000000412001")
    # One mint at first, one when the old token was first refused for the scope; no more.
    assert zoho.tokens_issued == 2
    assert zoho.calls["POST /oauth/v2/token"] == 2


async def test_the_scope_is_tried_again_once_its_token_is_replaced() -> None:
    # The refusal is remembered against its token: a new token (an hour later) tries once.
    zoho, clock = FakeZoho.with_items(1, scopes=set()), Clock()
    async with client_of(zoho, clock) as client:
        with pytest.raises(ZohoScopeError):
            await client.get_item(ItemsSource.books, zoho.item_ids()[0])
        zoho.scopes = frozenset({BOOKS_ITEMS_SCOPE})  # a re-granted refresh token, say
        clock.now += 3600  # the cached token is due for replacement
        assert await client.get_item(ItemsSource.books, zoho.item_ids()[0])
    assert zoho.tokens_issued == 2


@pytest.mark.parametrize(
    ("source", "scope"),
    [(ItemsSource.books, BOOKS_ITEMS_SCOPE), (ItemsSource.inventory, INVENTORY_ITEMS_SCOPE)],
)
async def test_item_reads_name_their_products_scope(source: ItemsSource, scope: str) -> None:
    zoho, clock = FakeZoho.with_items(1, scopes=set()), Clock()
    async with client_of(zoho, clock) as client:
        with pytest.raises(ZohoScopeError) as caught:
            await client.get_item(source, zoho.item_ids()[0])
        with pytest.raises(ZohoScopeError):
            async for _ in client.iter_items(source):
                pass
    assert caught.value.scopes == (scope,)
    assert zoho.tokens_issued == 1


async def test_crm_calls_name_their_scopes() -> None:
    zoho, clock = FakeZoho(scopes={BOOKS_ITEMS_SCOPE}), Clock()
    channel = WatchChannel(
        channel_id="1000000068001",
        notify_url="https://bridge.example.com/webhooks/zoho/crm",
        token="channel-token-0123456789",
        expires_at=datetime(2026, 5, 8, tzinfo=UTC),
    )
    async with client_of(zoho, clock) as client:
        with pytest.raises(ZohoScopeError) as product:
            await client.get_crm_product("5725767000000412001")
        with pytest.raises(ZohoScopeError) as watch:
            await client.ensure_watch(channel)
    assert product.value.scopes == (CRM_PRODUCTS_SCOPE,)
    assert product.value.zoho_code == "OAUTH_SCOPE_MISMATCH"
    assert watch.value.scopes == (CRM_NOTIFICATIONS_SCOPE,)
    assert zoho.tokens_issued == 1


def test_scopes_per_path() -> None:
    assert scopes_for("/books/v3/items") == (BOOKS_ITEMS_SCOPE,)
    assert scopes_for("/books/v3/items/2000000000101") == (BOOKS_ITEMS_SCOPE,)
    assert scopes_for("/inventory/v1/items") == (INVENTORY_ITEMS_SCOPE,)
    assert scopes_for("/crm/v8/Products/1") == (CRM_PRODUCTS_SCOPE,)
    assert scopes_for("/crm/v8/actions/watch") == (CRM_NOTIFICATIONS_SCOPE,)
    assert scopes_for("/books/v3/itemsx") == ()


async def test_mints_are_spaced_whatever_makes_tokens_unusable() -> None:
    # Tokens that live two seconds are due for replacement on every call; mints still keep
    # the minimum interval (the callers wait for it), so Zoho's 10 per 10 minutes holds.
    clock = Clock()
    minted_at: list[float] = []

    def mint(_request: httpx.Request) -> httpx.Response:
        minted_at.append(clock.now)
        body = {"access_token": f"tok-{len(minted_at)}", "expires_in": 2}
        return httpx.Response(200, json={**body, "api_domain": "https://www.zohoapis.com"})

    with respx.mock(assert_all_called=False) as mock:
        mock.post(f"{ACCOUNTS_URL}/oauth/v2/token").mock(side_effect=mint)
        mock.get("https://www.zohoapis.com/books/v3/items").respond(
            json={"code": 0, "message": "success", "items": []}
        )
        client = ZohoClient(
            client_id="c", client_secret="s", refresh_token="r", clock=clock, sleep=clock.sleep
        )
        async with client:
            for _ in range(5):
                await client.request("GET", "/books/v3/items")
                clock.now += 1.5
    gaps = [later - earlier for earlier, later in itertools.pairwise(minted_at)]
    assert len(minted_at) == 5
    assert all(gap >= MIN_MINT_INTERVAL_SECONDS for gap in gaps)


async def test_the_fake_refuses_minting_after_ten_tokens_as_zoho_does() -> None:
    zoho, clock = FakeZoho(), Clock()
    async with client_of(zoho, clock) as client:
        for _ in range(10):
            client.tokens.invalidate(await client.tokens.get())
        with pytest.raises(ZohoTokenThrottledError):
            await client.tokens.get()
    assert zoho.tokens_issued == 10
