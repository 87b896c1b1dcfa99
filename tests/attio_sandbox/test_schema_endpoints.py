"""/v2/self, objects, attributes and select options."""

from __future__ import annotations

import httpx
import pytest

from attio_sandbox import SandboxConfig, SandboxState, create_sandbox_app
from attio_sandbox.config import DEFAULT_WORKSPACE_ID
from tests.attio_sandbox.support import AUTH, BASE_URL, attribute_body, error

ATTRIBUTES = "/v2/objects/people/attributes"


async def test_self_describes_the_token(client: httpx.AsyncClient) -> None:
    body = (await client.get("/v2/self")).json()
    assert body["active"] is True
    assert body["workspace_id"] == DEFAULT_WORKSPACE_ID
    assert body["token_type"] == "Bearer"
    assert "record_permission:read-write" in body["scope"].split()


async def test_standard_objects_are_seeded(client: httpx.AsyncClient) -> None:
    objects = (await client.get("/v2/objects")).json()["data"]
    assert [o["api_slug"] for o in objects] == ["companies", "people"]
    people = (await client.get("/v2/objects/people")).json()["data"]
    by_id = (await client.get(f"/v2/objects/{people['id']['object_id']}")).json()["data"]
    assert by_id == people
    assert people["singular_noun"] == "Person"

    attributes = {a["api_slug"]: a for a in (await client.get(ATTRIBUTES)).json()["data"]}
    assert {"name", "email_addresses", "phone_numbers", "job_title", "company"} <= set(attributes)
    emails = attributes["email_addresses"]
    assert (emails["type"], emails["is_unique"], emails["is_multiselect"]) == (
        "email-address",
        True,
        True,
    )
    companies = (await client.get("/v2/objects/companies")).json()["data"]
    company = attributes["company"]
    assert company["config"]["record_reference"]["allowed_object_ids"] == [
        companies["id"]["object_id"]
    ]
    assert attributes["record_id"]["is_writable"] is False


async def test_create_object_and_slug_conflict(client: httpx.AsyncClient) -> None:
    body = {"data": {"api_slug": "payments", "singular_noun": "Payment", "plural_noun": "Payments"}}
    created = await client.post("/v2/objects", json=body)
    assert created.status_code == 200
    assert created.json()["data"]["api_slug"] == "payments"
    error(await client.post("/v2/objects", json=body), 409, "slug_conflict")
    slugs = {
        a["api_slug"] for a in (await client.get("/v2/objects/payments/attributes")).json()["data"]
    }
    assert slugs == {"record_id", "created_at", "created_by"}


async def test_the_plan_object_limit_counts_people_and_companies() -> None:
    sandbox = create_sandbox_app(SandboxConfig(max_objects=3))  # Attio's Free plan
    transport = httpx.ASGITransport(app=sandbox)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers=AUTH) as http:

        def body(slug: str) -> dict:
            return {"data": {"api_slug": slug, "singular_noun": slug, "plural_noun": slug + "s"}}

        assert (await http.post("/v2/objects", json=body("deal"))).status_code == 200
        refused = error(
            await http.post("/v2/objects", json=body("invoice")), 403, "object_limit_reached"
        )
        assert refused["type"] == "invalid_request_error"
        assert "3 objects" in refused["message"]
        slugs = {o["api_slug"] for o in (await http.get("/v2/objects")).json()["data"]}
        assert slugs == {"people", "companies", "deal"}


@pytest.mark.parametrize(
    "data",
    [
        {"api_slug": "Bad Slug", "singular_noun": "X", "plural_noun": "Xs"},
        {"api_slug": "ok", "singular_noun": "", "plural_noun": "Xs"},
        {"singular_noun": "X", "plural_noun": "Xs"},
    ],
)
async def test_create_object_validation(client: httpx.AsyncClient, data: dict) -> None:
    error(await client.post("/v2/objects", json={"data": data}), 400, "validation_type")


async def test_unknown_object(client: httpx.AsyncClient) -> None:
    error(await client.get("/v2/objects/planets"), 404, "not_found")
    error(await client.get("/v2/objects/planets/attributes"), 404, "not_found")
    body = attribute_body("x", "text")
    error(await client.post("/v2/objects/planets/attributes", json=body), 404, "not_found")


async def test_create_attributes_of_each_kind(client: httpx.AsyncClient) -> None:
    text = await client.post(
        ATTRIBUTES, json=attribute_body("braintree_customer_id", "text", is_unique=True)
    )
    assert text.status_code == 200
    data = text.json()["data"]
    assert (data["type"], data["is_unique"], data["is_system_attribute"]) == ("text", True, False)
    assert data["config"]["currency"] == {"default_currency_code": None, "display_type": None}

    currency = await client.post(
        ATTRIBUTES,
        json=attribute_body(
            "lifetime_value",
            "currency",
            config={"currency": {"default_currency_code": "GBP", "display_type": "symbol"}},
        ),
    )
    assert currency.json()["data"]["config"]["currency"] == {
        "default_currency_code": "GBP",
        "display_type": "symbol",
    }

    people_id = (await client.get("/v2/objects/people")).json()["data"]["id"]["object_id"]
    reference = await client.post(
        "/v2/objects/companies/attributes",
        json=attribute_body(
            "key_contacts",
            "record-reference",
            is_multiselect=True,
            config={"record_reference": {"allowed_objects": ["people"]}},
        ),
    )
    assert reference.json()["data"]["config"]["record_reference"] == {
        "allowed_object_ids": [people_id]
    }


RELATIONSHIP = {"object": "people", "title": "X", "api_slug": "x", "is_multiselect": False}
UNKNOWN_TARGET = {"record_reference": {"allowed_objects": ["planets"]}}
LOWERCASE_CURRENCY = {"currency": {"default_currency_code": "usd", "display_type": "code"}}
# ISO 4217, but not among the codes Attio lists (it has NTD for the Taiwan dollar).
TWD_CURRENCY = {"currency": {"default_currency_code": "TWD", "display_type": "code"}}
DYNAMIC_DEFAULT = {"type": "dynamic", "template": "current-user"}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (attribute_body("job_title", "text"), 409, "slug_conflict"),
        (attribute_body("tier", "select", is_unique=True), 400, "validation_type"),
        (attribute_body("stage", "status"), 400, "validation_type"),
        (attribute_body("flag", "checkbox", is_multiselect=True), 400, "validation_type"),
        (attribute_body("owner", "record-reference"), 400, "validation_type"),
        (
            attribute_body("owner", "record-reference", config=UNKNOWN_TARGET),
            400,
            "validation_type",
        ),
        (attribute_body("price", "currency", config=LOWERCASE_CURRENCY), 400, "validation_type"),
        (attribute_body("price", "currency", config=TWD_CURRENCY), 400, "validation_type"),
        (attribute_body("Bad Slug", "text"), 400, "validation_type"),
        (attribute_body("x", "text", is_unique="yes"), 400, "validation_type"),
        (attribute_body("x", "text", config=[]), 400, "validation_type"),
        (attribute_body("x", "text", surprise=True), 400, "validation_type"),
        (attribute_body("x", "text", default_value=DYNAMIC_DEFAULT), 400, "validation_type"),
        (
            attribute_body("x", "record-reference", relationship=RELATIONSHIP),
            400,
            "validation_type",
        ),
    ],
)
async def test_create_attribute_errors(
    client: httpx.AsyncClient, body: dict, status: int, code: str
) -> None:
    error(await client.post(ATTRIBUTES, json=body), status, code)


@pytest.mark.parametrize("missing", list(attribute_body("x", "text")["data"]))
async def test_every_attribute_field_is_required(client: httpx.AsyncClient, missing: str) -> None:
    body = attribute_body("x", "text")
    del body["data"][missing]
    message = error(await client.post(ATTRIBUTES, json=body), 400, "validation_type")["message"]
    assert missing in message


async def test_get_attribute_by_slug_or_id_and_paging(client: httpx.AsyncClient) -> None:
    by_slug = (await client.get(f"{ATTRIBUTES}/email_addresses")).json()["data"]
    by_id = (await client.get(f"{ATTRIBUTES}/{by_slug['id']['attribute_id']}")).json()["data"]
    assert by_id == by_slug
    error(await client.get(f"{ATTRIBUTES}/shoe_size"), 404, "not_found")

    everything = (await client.get(ATTRIBUTES)).json()["data"]
    page = (await client.get(ATTRIBUTES, params={"limit": 2, "offset": 1})).json()["data"]
    assert page == everything[1:3]
    archived = await client.get(ATTRIBUTES, params={"show_archived": "true"})
    assert archived.json()["data"] == everything
    error(await client.get(ATTRIBUTES, params={"limit": "many"}), 400, "validation_type")
    error(await client.get(ATTRIBUTES, params={"show_archived": "maybe"}), 400, "validation_type")


async def test_select_options(client: httpx.AsyncClient, sandbox: SandboxState) -> None:
    await client.post(ATTRIBUTES, json=attribute_body("tier", "select"))
    options = f"{ATTRIBUTES}/tier/options"
    created = await client.post(options, json={"data": {"title": "Gold"}})
    assert created.status_code == 200
    option = created.json()["data"]
    assert option["title"] == "Gold" and option["is_archived"] is False
    assert set(option["id"]) == {"workspace_id", "object_id", "attribute_id", "option_id"}

    error(await client.post(options, json={"data": {"title": "Gold"}}), 409, "slug_conflict")
    error(await client.post(options, json={"data": {"title": ""}}), 400, "validation_type")
    error(
        await client.post(f"{ATTRIBUTES}/job_title/options", json={"data": {"title": "X"}}),
        400,
        "validation_type",
    )
    error(await client.get(f"{ATTRIBUTES}/shoe_size/options"), 404, "not_found")
    listed = (await client.get(options, params={"show_archived": "true"})).json()["data"]
    assert [o["title"] for o in listed] == ["Gold"]
    tier = sandbox.store.get_attribute("people", "tier")
    assert tier.find_option("Gold") is not None
