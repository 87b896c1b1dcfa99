"""Assert (PUT .../records?matching_attribute=): one match updates, none creates, two fail."""

from __future__ import annotations

import httpx

from attio_sandbox import SandboxState
from tests.attio_sandbox.support import attribute_body, error, first, values, write_body

PEOPLE = "/v2/objects/people/records"


async def assert_person(
    client: httpx.AsyncClient, matching: str = "email_addresses", **attribute_values: object
) -> httpx.Response:
    return await client.put(
        PEOPLE, params={"matching_attribute": matching}, json=write_body(**attribute_values)
    )


async def test_no_match_creates_then_one_match_updates(
    client: httpx.AsyncClient, sandbox: SandboxState
) -> None:
    created = await assert_person(client, email_addresses=["ada@example.com"], job_title="A")
    assert created.status_code == 200
    updated = await assert_person(client, email_addresses=["ADA@example.com"], job_title="B")
    assert updated.status_code == 200
    assert updated.json()["data"]["id"] == created.json()["data"]["id"]
    assert first(updated.json()["data"], "job_title") == "B"
    assert len(sandbox.store.query_records("people")) == 1
    assert [e.event_type for e in sandbox.journal.events] == ["record.created", "record.updated"]


async def test_repeating_an_assert_changes_nothing(
    client: httpx.AsyncClient, sandbox: SandboxState
) -> None:
    for _ in range(3):
        response = await assert_person(client, email_addresses=["ada@example.com"], job_title="A")
        assert response.status_code == 200
    assert len(sandbox.store.query_records("people")) == 1
    assert [e.event_type for e in sandbox.journal.events] == ["record.created"]


async def test_matching_multiselect_keeps_existing_values_other_multiselects_are_replaced(
    client: httpx.AsyncClient,
) -> None:
    await assert_person(
        client,
        email_addresses=["a@example.com", "b@example.com"],
        phone_numbers=["+15558675309", "+442079460958"],
    )
    updated = await assert_person(
        client, email_addresses=["c@example.com", "a@example.com"], phone_numbers=["+33142685300"]
    )
    record = updated.json()["data"]
    assert [v["email_address"] for v in values(record, "email_addresses")] == [
        "c@example.com",
        "a@example.com",
        "b@example.com",
    ]
    assert [v["phone_number"] for v in values(record, "phone_numbers")] == ["+33142685300"]


async def test_several_matching_records_is_an_error(
    client: httpx.AsyncClient, sandbox: SandboxState
) -> None:
    await assert_person(client, email_addresses=["a@example.com"])
    await assert_person(client, email_addresses=["b@example.com"])
    response = await assert_person(client, email_addresses=["a@example.com", "b@example.com"])
    error(response, 400, "multiple_match_results")
    assert len(sandbox.store.query_records("people")) == 2


async def test_matching_attribute_must_be_unique(client: httpx.AsyncClient) -> None:
    response = await assert_person(client, matching="job_title", job_title="CTO")
    error(response, 400, "matching_attribute_definition_not_unique")


async def test_unknown_matching_attribute(client: httpx.AsyncClient) -> None:
    response = await assert_person(client, matching="shoe_size", job_title="CTO")
    error(response, 400, "value_not_found")


async def test_matching_value_is_required(client: httpx.AsyncClient) -> None:
    error(await assert_person(client, job_title="CTO"), 400, "missing_value")
    missing = await client.put(PEOPLE, json=write_body(email_addresses=["a@example.com"]))
    error(missing, 400, "validation_type")


async def test_matching_on_a_custom_unique_attribute_and_by_attribute_id(
    client: httpx.AsyncClient, sandbox: SandboxState
) -> None:
    body = attribute_body("braintree_customer_id", "text", is_unique=True)
    await client.post("/v2/objects/people/attributes", json=body)
    attribute_id = sandbox.store.get_attribute("people", "braintree_customer_id").id
    first_write = await assert_person(
        client, matching=attribute_id, braintree_customer_id="cus_1", job_title="A"
    )
    second_write = await assert_person(
        client, matching="braintree_customer_id", braintree_customer_id="cus_1", job_title="B"
    )
    assert first_write.json()["data"]["id"] == second_write.json()["data"]["id"]
    assert first(second_write.json()["data"], "job_title") == "B"


async def test_assert_that_would_steal_a_unique_value_fails(client: httpx.AsyncClient) -> None:
    body = attribute_body("braintree_customer_id", "text", is_unique=True)
    await client.post("/v2/objects/people/attributes", json=body)
    await assert_person(client, email_addresses=["a@example.com"], braintree_customer_id="cus_1")
    response = await assert_person(
        client, email_addresses=["b@example.com"], braintree_customer_id="cus_1"
    )
    error(response, 400, "uniqueness_conflict")


async def test_companies_assert_on_domains(
    client: httpx.AsyncClient, sandbox: SandboxState
) -> None:
    url = "/v2/objects/companies/records"
    params = {"matching_attribute": "domains"}
    first_write = await client.put(url, params=params, json=write_body(domains=["acme.com"]))
    second_write = await client.put(
        url, params=params, json=write_body(domains=["https://acme.com/about"], name="Acme")
    )
    assert first_write.json()["data"]["id"] == second_write.json()["data"]["id"]
    assert first(second_write.json()["data"], "name") == "Acme"
    assert len(sandbox.store.query_records("companies")) == 1
