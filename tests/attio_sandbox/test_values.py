"""Write forms and read shapes of every attribute type the bridge uses."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from attio_sandbox import SandboxState
from attio_sandbox.config import DEFAULT_ACTOR_ID
from tests.attio_sandbox.support import error, first, values, write_body

NANOSECOND_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$")
SUBSCRIPTIONS = "/v2/objects/subscriptions/records"
MISSING_ID = "7a1c9e5e-0000-4000-8000-000000000000"


def add_attribute(sandbox: SandboxState, slug: str, attribute_type: str, **options: Any) -> None:
    settings: dict[str, Any] = {"is_required": False, "is_unique": False, "is_multiselect": False}
    settings.update(options)
    sandbox.store.create_attribute(
        "subscriptions",
        title=slug,
        description=None,
        api_slug=slug,
        attribute_type=attribute_type,
        **settings,
    )


@pytest.fixture(autouse=True)
def subscriptions(sandbox: SandboxState) -> None:
    """A custom object with one attribute of each type."""
    sandbox.store.create_object("subscriptions", "Subscription", "Subscriptions")
    add_attribute(sandbox, "label", "text")
    add_attribute(sandbox, "amount", "number")
    add_attribute(sandbox, "active", "checkbox")
    add_attribute(sandbox, "price", "currency", currency_code="EUR", currency_display="code")
    add_attribute(sandbox, "signed_on", "date")
    add_attribute(sandbox, "seen_at", "timestamp")
    add_attribute(sandbox, "stars", "rating")
    add_attribute(sandbox, "tier", "select")
    add_attribute(sandbox, "tags", "select", is_multiselect=True)
    add_attribute(sandbox, "site", "domain")
    add_attribute(sandbox, "hotline", "phone-number")
    add_attribute(sandbox, "owner", "record-reference", allowed_objects=["people"])
    for title in ("Gold", "Silver"):
        sandbox.store.create_option("subscriptions", "tier", title)
    for title in ("A", "B", "C"):
        sandbox.store.create_option("subscriptions", "tags", title)


@pytest.mark.parametrize(
    ("slug", "written", "expected"),
    [
        ("label", "hello", {"value": "hello"}),
        ("label", {"value": "hi"}, {"value": "hi"}),
        ("label", ["in an array"], {"value": "in an array"}),
        ("amount", 3.14159, {"value": 3.1416}),
        ("amount", {"value": 2}, {"value": 2}),
        ("active", True, {"value": True}),
        ("active", "false", {"value": False}),
        ("active", {"value": True}, {"value": True}),
        ("price", 4.99, {"currency_value": 4.99, "currency_code": "EUR"}),
        ("price", "12.5", {"currency_value": 12.5, "currency_code": "EUR"}),
        ("price", {"currency_value": 10}, {"currency_value": 10, "currency_code": "EUR"}),
        ("signed_on", "2026-01-31", {"value": "2026-01-31"}),
        ("signed_on", {"value": "2026-01-31T10:00:00"}, {"value": "2026-01-31"}),
        # The zone moves the moment to the next UTC day, so the date follows.
        ("signed_on", "2026-01-31T23:30:00-02:00", {"value": "2026-02-01"}),
        ("seen_at", "2026-01-31T12:00:00Z", {"value": "2026-01-31T12:00:00.000000000Z"}),
        (
            "seen_at",
            "2026-01-31T12:00:00.123456789+01:00",
            {"value": "2026-01-31T11:00:00.123456789Z"},
        ),
        ("seen_at", {"value": "2026-01"}, {"value": "2026-01-01T00:00:00.000000000Z"}),
        ("stars", 4, {"value": 4}),
        (
            "site",
            "https://www.Example.co.uk/pricing?plan=pro",
            {"domain": "www.example.co.uk", "root_domain": "example.co.uk"},
        ),
        (
            "site",
            {"domain": "app.attio.com"},
            {"domain": "app.attio.com", "root_domain": "attio.com"},
        ),
        (
            "hotline",
            "+1 (555) 867-5309",
            {
                "original_phone_number": "+1 (555) 867-5309",
                "country_code": "US",
                "phone_number": "+15558675309",
            },
        ),
        (
            "hotline",
            {"original_phone_number": "020 7946 0958", "country_code": "GB"},
            {
                "original_phone_number": "020 7946 0958",
                "country_code": "GB",
                "phone_number": "+442079460958",
            },
        ),
    ],
)
async def test_write_forms_and_read_shapes(
    client: httpx.AsyncClient, slug: str, written: Any, expected: dict[str, Any]
) -> None:
    response = await client.post(SUBSCRIPTIONS, json=write_body(**{slug: written}))
    assert response.status_code == 200, response.json()
    (value,) = values(response.json()["data"], slug)
    assert {key: value[key] for key in expected} == expected
    assert NANOSECOND_TIMESTAMP.match(value["active_from"])
    assert value["active_until"] is None
    assert value["created_by_actor"] == {"type": "api-token", "id": DEFAULT_ACTOR_ID}
    assert value["attribute_type"] == response.json()["data"]["values"][slug][0]["attribute_type"]


async def test_every_attribute_is_present_as_an_array(client: httpx.AsyncClient) -> None:
    record = (await client.post(SUBSCRIPTIONS, json=write_body(label="x"))).json()["data"]
    assert all(isinstance(items, list) for items in record["values"].values())
    assert record["values"]["amount"] == []
    assert first(record, "record_id") == record["id"]["record_id"]
    assert first(record, "created_at") == record["created_at"]
    assert values(record, "created_by")[0]["referenced_actor_type"] == "api-token"


async def test_select_by_title_or_option_id(
    client: httpx.AsyncClient, sandbox: SandboxState
) -> None:
    silver = sandbox.store.get_attribute("subscriptions", "tier").find_option("Silver")
    assert silver is not None
    by_title = (await client.post(SUBSCRIPTIONS, json=write_body(tier="Gold"))).json()["data"]
    by_id = (await client.post(SUBSCRIPTIONS, json=write_body(tier={"option": silver.id}))).json()[
        "data"
    ]
    by_object_title = (
        await client.post(SUBSCRIPTIONS, json=write_body(tags=[{"option": "A"}, "B"]))
    ).json()["data"]

    gold = values(by_title, "tier")[0]["option"]
    assert gold["title"] == "Gold" and gold["is_archived"] is False
    assert set(gold["id"]) == {"workspace_id", "object_id", "attribute_id", "option_id"}
    assert values(by_id, "tier")[0]["option"]["id"]["option_id"] == silver.id
    assert [v["option"]["title"] for v in values(by_object_title, "tags")] == ["A", "B"]


async def test_unknown_select_title_is_an_error_and_creates_no_option(
    client: httpx.AsyncClient, sandbox: SandboxState
) -> None:
    response = await client.post(SUBSCRIPTIONS, json=write_body(tier="Platinum"))
    error(response, 400, "value_not_found")
    assert len(sandbox.store.get_attribute("subscriptions", "tier").options) == 2
    assert sandbox.store.query_records("subscriptions") == []


async def test_personal_name_forms(client: httpx.AsyncClient) -> None:
    url = "/v2/objects/people/records"
    full = {"first_name": "Ada", "last_name": "Lovelace", "full_name": "Ada Lovelace"}
    as_object = (await client.post(url, json=write_body(name=full))).json()["data"]
    as_string = (await client.post(url, json=write_body(name="Lovelace, Ada"))).json()["data"]
    first_only = (await client.post(url, json=write_body(name="Ada"))).json()["data"]
    for record in (as_object, as_string):
        (name,) = values(record, "name")
        assert {k: name[k] for k in full} == full
        assert name["attribute_type"] == "personal-name"
    assert values(first_only, "name")[0]["full_name"] == "Ada"
    assert values(first_only, "name")[0]["last_name"] == ""

    partial = await client.post(url, json=write_body(name={"first_name": "Ada"}))
    error(partial, 400, "validation_type")


async def test_email_address_properties(client: httpx.AsyncClient) -> None:
    record = (
        await client.post(
            "/v2/objects/people/records",
            json=write_body(
                email_addresses=["Ada.L@Mail.Example.co.uk", {"email_address": "a@b.io"}]
            ),
        )
    ).json()["data"]
    first_email, second_email = values(record, "email_addresses")
    assert first_email == first_email | {
        "original_email_address": "Ada.L@Mail.Example.co.uk",
        "email_address": "ada.l@mail.example.co.uk",
        "email_domain": "mail.example.co.uk",
        "email_root_domain": "example.co.uk",
        "email_local_specifier": "ada.l",
        "attribute_type": "email-address",
    }
    assert second_email["email_address"] == "a@b.io"


@pytest.mark.parametrize(
    ("slug", "written", "code"),
    [
        ("label", 5, "validation_type"),
        ("label", {"value": "x", "extra": 1}, "validation_type"),
        ("label", ["a", "b"], "multiple_values_for_single_value_attribute"),
        ("amount", "12", "validation_type"),
        ("amount", True, "validation_type"),
        ("active", "yes", "validation_type"),
        ("price", "twelve", "validation_type"),
        ("price", {"currency_value": 1, "currency_code": "USD"}, "validation_type"),
        ("signed_on", "31/01/2026", "validation_type"),
        ("seen_at", "yesterday", "validation_type"),
        ("stars", 6, "validation_type"),
        ("site", "not a domain", "validation_type"),
        ("hotline", "5558675309", "validation_type"),
        ("hotline", {"phone_number": "+15558675309"}, "validation_type"),
        ("tags", "A", "validation_type"),
        ("record_id", "x", "validation_type"),
        ("no_such_attribute", "x", "value_not_found"),
    ],
)
async def test_bad_values_are_rejected(
    client: httpx.AsyncClient, sandbox: SandboxState, slug: str, written: Any, code: str
) -> None:
    response = await client.post(SUBSCRIPTIONS, json=write_body(**{slug: written}))
    error(response, 400, code)
    assert sandbox.store.query_records("subscriptions") == []
    assert sandbox.journal.events == []


async def test_invalid_email_and_non_array_multiselect(client: httpx.AsyncClient) -> None:
    url = "/v2/objects/people/records"
    error(await client.post(url, json=write_body(email_addresses=["nope"])), 400, "validation_type")
    error(
        await client.post(url, json=write_body(email_addresses="a@b.com")), 400, "validation_type"
    )


async def test_attribute_keys_may_be_ids(client: httpx.AsyncClient, sandbox: SandboxState) -> None:
    label = sandbox.store.get_attribute("subscriptions", "label")
    record = (await client.post(SUBSCRIPTIONS, json=write_body(**{label.id: "by id"}))).json()
    assert first(record["data"], "label") == "by id"


@pytest.mark.parametrize("cleared", [None, []])
async def test_null_or_empty_array_clears(client: httpx.AsyncClient, cleared: Any) -> None:
    created = (await client.post(SUBSCRIPTIONS, json=write_body(label="x", tags=["A"]))).json()
    url = f"{SUBSCRIPTIONS}/{created['data']['id']['record_id']}"
    updated = (await client.put(url, json=write_body(label=cleared, tags=cleared))).json()["data"]
    assert values(updated, "label") == []
    assert values(updated, "tags") == []


class TestRecordReferences:
    @pytest.fixture
    async def ada(self, client: httpx.AsyncClient) -> str:
        body = write_body(email_addresses=["ada@example.com"])
        response = await client.post("/v2/objects/people/records", json=body)
        record_id: str = response.json()["data"]["id"]["record_id"]
        return record_id

    async def test_by_target_record_id(self, client: httpx.AsyncClient, ada: str) -> None:
        ref = {"target_object": "people", "target_record_id": ada}
        record = (await client.post(SUBSCRIPTIONS, json=write_body(owner=[ref]))).json()["data"]
        (value,) = values(record, "owner")
        assert value["target_object"] == "people"
        assert value["target_record_id"] == ada
        assert value["attribute_type"] == "record-reference"

    async def test_by_matching_the_targets_unique_attribute(
        self, client: httpx.AsyncClient, ada: str
    ) -> None:
        ref = {"target_object": "people", "email_addresses": [{"email_address": "ADA@example.com"}]}
        record = (await client.post(SUBSCRIPTIONS, json=write_body(owner=[ref]))).json()["data"]
        assert first(record, "owner", "target_record_id") == ada

    async def test_a_bare_string_is_an_email_for_people_and_a_domain_for_companies(
        self, client: httpx.AsyncClient, ada: str
    ) -> None:
        record = (await client.post(SUBSCRIPTIONS, json=write_body(owner="ada@example.com"))).json()
        assert first(record["data"], "owner", "target_record_id") == ada

        company = await client.post(
            "/v2/objects/companies/records", json=write_body(domains=["acme.com"])
        )
        company_id = company.json()["data"]["id"]["record_id"]
        person = await client.post(
            "/v2/objects/people/records", json=write_body(company="acme.com")
        )
        assert first(person.json()["data"], "company", "target_record_id") == company_id
        assert first(person.json()["data"], "company", "target_object") == "companies"

    @pytest.mark.parametrize(
        ("ref", "code"),
        [
            ({"target_object": "people", "target_record_id": MISSING_ID}, "value_not_found"),
            ({"target_object": "people", "email_addresses": ["no@example.com"]}, "value_not_found"),
            ({"target_object": "companies", "domains": ["acme.com"]}, "validation_type"),
            ({"target_object": "planets", "target_record_id": "x"}, "value_not_found"),
            ({"target_record_id": "x"}, "validation_type"),
        ],
    )
    async def test_failures(
        self, client: httpx.AsyncClient, ada: str, ref: dict[str, Any], code: str
    ) -> None:
        error(await client.post(SUBSCRIPTIONS, json=write_body(owner=[ref])), 400, code)

    async def test_deleting_the_target_removes_the_reference(
        self, client: httpx.AsyncClient, sandbox: SandboxState, ada: str
    ) -> None:
        ref = {"target_object": "people", "target_record_id": ada}
        record = (await client.post(SUBSCRIPTIONS, json=write_body(owner=[ref]))).json()["data"]
        assert (await client.delete(f"/v2/objects/people/records/{ada}")).json() == {}
        url = f"{SUBSCRIPTIONS}/{record['id']['record_id']}"
        assert values((await client.get(url)).json()["data"], "owner") == []
        assert sandbox.journal.events[-1].event_type == "record.updated"
