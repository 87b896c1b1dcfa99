"""Listing Zoho CRM products: the client's paging, and the fake answering as CRM does."""

from __future__ import annotations

from typing import Any

import pytest
import respx

from app.clients.zoho import ZohoAPIError, ZohoClient, ZohoRateLimitError
from app.clients.zoho.client import CRM_PRODUCT_FIELDS
from testkit.fake_zoho import FakeZoho

ACCOUNTS = "https://accounts.zoho.com"
API = "https://www.zohoapis.com"
PRODUCTS = f"{API}/crm/v8/Products"
FIELDS = ",".join(CRM_PRODUCT_FIELDS)


async def all_pages(client: ZohoClient) -> list[list[dict[str, Any]]]:
    return [page async for page in client.iter_crm_product_pages()]


def make_client(**options: Any) -> ZohoClient:
    settings: dict[str, Any] = {
        "client_id": "1000.CLIENT",
        "client_secret": "client-secret-value",
        "refresh_token": "1000.refresh-token-value",
        "requests_per_minute": 10_000,
        "wait": lambda _state: 0.0,
        "throttle_pause": 0.0,
    }
    return ZohoClient(**{**settings, **options})


def token() -> dict[str, Any]:
    return {"access_token": "tok-1", "api_domain": API, "token_type": "Bearer", "expires_in": 3600}


def page_body(ids: range, *, more: bool, next_token: str | None = None) -> dict[str, Any]:
    info = {"per_page": 200, "count": len(ids), "more_records": more}
    return {"data": [{"id": str(i)} for i in ids], "info": {**info, "next_page_token": next_token}}


# -- the client ------------------------------------------------------------------------------


async def test_pages_follow_the_page_token_once_crm_gives_one() -> None:
    zoho = FakeZoho().add_crm_products(450)
    async with zoho.client() as client:
        pages = await all_pages(client)
    assert [len(page) for page in pages] == [200, 200, 50]
    ids = [p["id"] for page in pages for p in page]
    assert ids == sorted(zoho.crm_products, key=int)  # id ascending, each once
    assert set(pages[0][0]) == {"id", *CRM_PRODUCT_FIELDS}  # only the fields asked for


async def test_an_empty_module_is_a_204_and_no_pages() -> None:
    async with FakeZoho().client() as client:
        assert await all_pages(client) == []


async def test_page_numbers_are_used_while_crm_gives_no_token() -> None:
    with respx.mock() as mock:
        mock.post(f"{ACCOUNTS}/oauth/v2/token").respond(json=token())
        route = mock.get(PRODUCTS).mock(
            side_effect=[
                respx.MockResponse(json=page_body(range(200), more=True)),
                respx.MockResponse(json=page_body(range(200, 210), more=False)),
            ]
        )
        async with make_client() as client:
            pages = await all_pages(client)
    assert [len(page) for page in pages] == [200, 10]
    assert [call.request.url.params["page"] for call in route.calls] == ["1", "2"]
    assert route.calls[0].request.url.params["fields"] == FIELDS


async def test_more_records_beyond_page_numbers_without_a_token_is_an_error() -> None:
    with respx.mock() as mock:
        mock.post(f"{ACCOUNTS}/oauth/v2/token").respond(json=token())
        mock.get(PRODUCTS).respond(json=page_body(range(200), more=True))
        async with make_client() as client:
            with pytest.raises(ZohoAPIError, match="page token"):
                await all_pages(client)


async def test_a_page_without_data_is_an_error() -> None:
    with respx.mock() as mock:
        mock.post(f"{ACCOUNTS}/oauth/v2/token").respond(json=token())
        mock.get(PRODUCTS).respond(json={"info": {"more_records": False}})
        async with make_client() as client:
            with pytest.raises(ZohoAPIError, match="no `data`"):
                await all_pages(client)


async def test_throttling_is_retried() -> None:
    busy = {"status": "error", "code": "TOO_MANY_REQUESTS", "message": "too many", "details": {}}
    with respx.mock() as mock:
        mock.post(f"{ACCOUNTS}/oauth/v2/token").respond(json=token())
        route = mock.get(PRODUCTS).mock(
            side_effect=[
                respx.MockResponse(429, json=busy),
                respx.MockResponse(json=page_body(range(3), more=False)),
            ]
        )
        async with make_client() as client:
            assert [len(page) for page in await all_pages(client)] == [3]
        assert route.call_count == 2

        route.mock(return_value=respx.MockResponse(429, json=busy))
        async with make_client(max_attempts=2) as client:
            with pytest.raises(ZohoRateLimitError):
                await all_pages(client)


# -- the fake answers as CRM does ------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({}, "REQUIRED_PARAM_MISSING"),
        ({"fields": FIELDS, "page": 11}, "DISCRETE_PAGINATION_LIMIT_EXCEEDED"),
        ({"fields": FIELDS, "per_page": 201}, "INVALID_DATA"),
        ({"fields": FIELDS, "page": 1, "page_token": "x"}, "AMBIGUITY_DURING_PROCESSING"),
        ({"fields": FIELDS, "page_token": "not-issued"}, "INVALID_DATA"),
        ({"fields": ",".join(f"Field_{n}" for n in range(51))}, "LIMIT_EXCEEDED"),
        ({"fields": FIELDS, "sort_by": "Product_Name"}, "INVALID_DATA"),
    ],
)
async def test_the_fake_refuses_what_crm_refuses(params: dict[str, Any], code: str) -> None:
    async with FakeZoho().add_crm_products(5).client() as client:
        with pytest.raises(ZohoAPIError) as refused:
            await client.request("GET", "/crm/v8/Products", params=params)
    assert refused.value.http_status == 400 and refused.value.zoho_code == code


async def test_the_fakes_page_token_is_bound_to_its_query() -> None:
    async with FakeZoho().add_crm_products(300).client() as client:
        first = await client.request("GET", "/crm/v8/Products", params={"fields": FIELDS})
        assert first is not None
        info = first["info"]
        assert info["more_records"] is True and info["sort_order"] == "desc"  # CRM's default
        token = info["next_page_token"]
        params = {"fields": "Product_Name", "page_token": token}
        with pytest.raises(ZohoAPIError) as refused:
            await client.request("GET", "/crm/v8/Products", params=params)
        assert refused.value.zoho_code == "TOKEN_BOUND_DATA_MISMATCH"
        rest = await client.request(
            "GET", "/crm/v8/Products", params={"fields": FIELDS, "page_token": token}
        )
        assert rest is not None
        assert len(rest["data"]) == 100 and rest["info"]["more_records"] is False
