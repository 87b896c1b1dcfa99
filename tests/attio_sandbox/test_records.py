"""Record create, get, update (PATCH appends, PUT overwrites), delete, and uniqueness."""

from __future__ import annotations

import httpx
import pytest

from attio_sandbox import SandboxState
from tests.attio_sandbox.support import attribute_body, error, first, values, write_body

PEOPLE = "/v2/objects/people/records"
COMPANIES = "/v2/objects/companies/records"
MISSING_ID = "7a1c9e5e-0000-4000-8000-000000000000"


def emails(record: dict) -> list[str]:
    return [v["email_address"] for v in values(record, "email_addresses")]


async def create_person(client: httpx.AsyncClient, *addresses: str, **more: object) -> dict:
    response = await client.post(PEOPLE, json=write_body(email_addresses=list(addresses), **more))
    assert response.status_code == 200, response.json()
    record: dict = response.json()["data"]
    return record


async def test_create_returns_the_record_and_get_reads_it_back(client: httpx.AsyncClient) -> None:
    created = await create_person(client, "ada@example.com", job_title="Mathematician")
    ids = created["id"]
    assert set(ids) == {"workspace_id", "object_id", "record_id"}
    assert created["web_url"].endswith(f"/person/{ids['record_id']}")

    fetched = await client.get(f"{PEOPLE}/{ids['record_id']}")
    assert fetched.status_code == 200
    assert fetched.json()["data"] == created


async def test_object_may_be_addressed_by_id(
    client: httpx.AsyncClient, sandbox: SandboxState
) -> None:
    people_id = sandbox.store.get_object("people").id
    created = await create_person(client, "ada@example.com")
    record_id = created["id"]["record_id"]
    response = await client.get(f"/v2/objects/{people_id}/records/{record_id}")
    assert response.json()["data"]["id"]["record_id"] == record_id


async def test_patch_prepends_multiselect_values_and_replaces_single_values(
    client: httpx.AsyncClient,
) -> None:
    created = await create_person(client, "a@example.com", job_title="Engineer")
    url = f"{PEOPLE}/{created['id']['record_id']}"
    body = write_body(email_addresses=["b@example.com", "a@example.com"], job_title="CTO")
    patched = (await client.patch(url, json=body)).json()["data"]
    assert emails(patched) == ["b@example.com", "a@example.com"]
    assert first(patched, "job_title") == "CTO"
    # The value that was already there keeps its original active_from.
    assert values(patched, "email_addresses")[1] == values(created, "email_addresses")[0]


async def test_put_overwrites_multiselect_values(client: httpx.AsyncClient) -> None:
    created = await create_person(client, "a@example.com", "b@example.com", job_title="Engineer")
    url = f"{PEOPLE}/{created['id']['record_id']}"
    replaced = (await client.put(url, json=write_body(email_addresses=["c@example.com"]))).json()
    assert emails(replaced["data"]) == ["c@example.com"]
    # Attributes not in the body are untouched.
    assert first(replaced["data"], "job_title") == "Engineer"


async def test_delete_answers_an_empty_object_then_404(client: httpx.AsyncClient) -> None:
    created = await create_person(client, "a@example.com")
    url = f"{PEOPLE}/{created['id']['record_id']}"
    deleted = await client.delete(url)
    assert deleted.status_code == 200
    assert deleted.json() == {}
    error(await client.get(url), 404, "not_found")
    error(await client.delete(url), 404, "not_found")


@pytest.mark.parametrize("method", ["GET", "PATCH", "PUT", "DELETE"])
async def test_missing_record_is_404(client: httpx.AsyncClient, method: str) -> None:
    body = write_body(job_title="x") if method in ("PATCH", "PUT") else None
    response = await client.request(method, f"{PEOPLE}/{MISSING_ID}", json=body)
    assert "not found" in error(response, 404, "not_found")["message"]


async def test_unknown_object_is_404(client: httpx.AsyncClient) -> None:
    error(await client.post("/v2/objects/planets/records", json=write_body()), 404, "not_found")
    error(await client.get(f"/v2/objects/planets/records/{MISSING_ID}"), 404, "not_found")


async def test_unique_values_are_enforced_across_records(
    client: httpx.AsyncClient, sandbox: SandboxState
) -> None:
    first_person = await create_person(client, "a@example.com")
    other = await create_person(client, "b@example.com")

    duplicate = await client.post(PEOPLE, json=write_body(email_addresses=["A@Example.com"]))
    error(duplicate, 400, "uniqueness_conflict")

    other_url = f"{PEOPLE}/{other['id']['record_id']}"
    stolen = await client.patch(other_url, json=write_body(email_addresses=["a@example.com"]))
    error(stolen, 400, "uniqueness_conflict")
    # Re-writing a record's own unique value is not a conflict.
    own_url = f"{PEOPLE}/{first_person['id']['record_id']}"
    assert (
        await client.put(own_url, json=write_body(email_addresses=["a@example.com"]))
    ).is_success

    # A freed value can be taken.
    await client.delete(own_url)
    assert (
        await client.patch(other_url, json=write_body(email_addresses=["a@example.com"]))
    ).is_success
    assert len(sandbox.store.query_records("people")) == 1


async def test_custom_unique_text_attribute(client: httpx.AsyncClient) -> None:
    body = attribute_body("braintree_customer_id", "text", is_unique=True)
    assert (await client.post("/v2/objects/people/attributes", json=body)).is_success
    await create_person(client, "a@example.com", braintree_customer_id="cus_1")
    duplicate = await client.post(PEOPLE, json=write_body(braintree_customer_id="cus_1"))
    error(duplicate, 400, "uniqueness_conflict")


async def test_required_attributes(client: httpx.AsyncClient) -> None:
    body = attribute_body("external_id", "text", is_required=True)
    assert (await client.post("/v2/objects/companies/attributes", json=body)).is_success
    error(await client.post(COMPANIES, json=write_body(name="Acme")), 400, "missing_value")
    created = await client.post(COMPANIES, json=write_body(name="Acme", external_id="e-1"))
    url = f"{COMPANIES}/{created.json()['data']['id']['record_id']}"
    error(await client.patch(url, json=write_body(external_id=None)), 400, "missing_value")


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        {"values": {}},
        {"data": {"values": []}},
        {"data": {"values": {}, "extra": 1}},
    ],
)
async def test_malformed_write_bodies(client: httpx.AsyncClient, body: object) -> None:
    error(await client.post(PEOPLE, json=body), 400, "validation_type")


async def test_invalid_json_body(client: httpx.AsyncClient) -> None:
    response = await client.post(
        PEOPLE, content=b"{not json", headers={"Content-Type": "application/json"}
    )
    error(response, 400, "validation_type")
