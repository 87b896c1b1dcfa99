"""Every sandbox endpoint, happy and error paths, checked against Attio's OpenAPI document."""

from __future__ import annotations

import httpx
import pytest

from attio_sandbox import SandboxState
from tests.attio_sandbox.support import attribute_body as attribute
from tests.attio_sandbox.support import write_body as values
from tests.contract.openapi import ValidatingTransport

MISSING_ID = "7a1c9e5e-0000-4000-8000-000000000000"
PEOPLE = "/v2/objects/people/records"
WEBHOOK_URL = "https://bridge.example.com/webhooks/attio"
DEALS = "/v2/objects/deals/records"


def assert_clean(transport: ValidatingTransport) -> None:
    assert transport.checked > 0
    assert not transport.violations, "\n".join(str(v) for v in transport.violations)


async def expect(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    body: dict = response.json()
    return body


async def test_self_and_objects(client: httpx.AsyncClient, transport: ValidatingTransport) -> None:
    await expect(await client.get("/v2/self"), 200)
    await expect(await client.get("/v2/objects"), 200)
    body = {"data": {"api_slug": "deals", "singular_noun": "Deal", "plural_noun": "Deals"}}
    created = await expect(await client.post("/v2/objects", json=body), 200)
    await expect(await client.post("/v2/objects", json=body), 409)
    await expect(await client.get("/v2/objects/deals"), 200)
    await expect(await client.get(f"/v2/objects/{created['data']['id']['object_id']}"), 200)
    await expect(await client.get("/v2/objects/planets"), 404)
    assert_clean(transport)


async def test_attributes_and_options(
    client: httpx.AsyncClient, transport: ValidatingTransport
) -> None:
    url = "/v2/objects/people/attributes"
    await expect(await client.get(url), 200)
    await expect(
        await client.get(url, params={"limit": 5, "offset": 2, "show_archived": "true"}), 200
    )
    unique_text = attribute("braintree_customer_id", "text", is_unique=True)
    await expect(await client.post(url, json=unique_text), 200)
    await expect(await client.post(url, json=unique_text), 409)
    currency = {"currency": {"default_currency_code": "EUR", "display_type": "code"}}
    await expect(await client.post(url, json=attribute("ltv", "currency", config=currency)), 200)
    reference = {"record_reference": {"allowed_objects": ["companies"]}}
    await expect(
        await client.post(url, json=attribute("employer", "record-reference", config=reference)),
        200,
    )
    await expect(await client.post(url, json=attribute("tier", "select")), 200)
    await expect(await client.post(url, json=attribute("grade", "select", is_unique=True)), 400)
    await expect(await client.post("/v2/objects/planets/attributes", json=unique_text), 404)

    by_slug = await expect(await client.get(f"{url}/tier"), 200)
    await expect(await client.get(f"{url}/{by_slug['data']['id']['attribute_id']}"), 200)
    await expect(await client.get(f"{url}/shoe_size"), 404)

    options = f"{url}/tier/options"
    await expect(await client.post(options, json={"data": {"title": "Gold"}}), 200)
    await expect(await client.post(options, json={"data": {"title": "Gold"}}), 409)
    await expect(await client.post(f"{url}/job_title/options", json={"data": {"title": "X"}}), 400)
    await expect(await client.get(options), 200)
    await expect(await client.get(options, params={"show_archived": "true"}), 200)
    await expect(await client.get(f"{url}/shoe_size/options"), 404)
    assert_clean(transport)


@pytest.fixture
async def deals(client: httpx.AsyncClient, sandbox: SandboxState) -> None:
    """A custom object with an attribute of every type the bridge writes."""
    body = {"data": {"api_slug": "deals", "singular_noun": "Deal", "plural_noun": "Deals"}}
    await expect(await client.post("/v2/objects", json=body), 200)
    url = "/v2/objects/deals/attributes"
    definitions = [
        attribute("external_id", "text", is_unique=True),
        attribute("amount", "number"),
        attribute("won", "checkbox"),
        attribute(
            "value",
            "currency",
            config={"currency": {"default_currency_code": "USD", "display_type": "symbol"}},
        ),
        attribute("close_date", "date"),
        attribute("closed_at", "timestamp"),
        attribute("rating", "rating"),
        attribute("stage", "select"),
        attribute("labels", "select", is_multiselect=True),
        attribute("website", "domain"),
        attribute("hotline", "phone-number"),
        attribute(
            "contact",
            "record-reference",
            config={"record_reference": {"allowed_objects": ["people"]}},
        ),
        attribute(
            "account",
            "record-reference",
            config={"record_reference": {"allowed_objects": ["companies"]}},
        ),
    ]
    for definition in definitions:
        await expect(await client.post(url, json=definition), 200)
    for attribute_slug, title in [("stage", "Won"), ("labels", "Hot"), ("labels", "Renewal")]:
        await expect(
            await client.post(f"{url}/{attribute_slug}/options", json={"data": {"title": title}}),
            200,
        )
    sandbox.store.create_record("companies", {"name": "Acme", "domains": ["acme.com"]})


async def test_records_of_every_type(
    client: httpx.AsyncClient, transport: ValidatingTransport, deals: None
) -> None:
    person = await expect(
        await client.post(
            PEOPLE,
            json=values(
                name=[{"first_name": "Ada", "last_name": "Lovelace", "full_name": "Ada Lovelace"}],
                email_addresses=["ada@acme.com"],
                phone_numbers=[{"original_phone_number": "+447700900123", "country_code": None}],
                job_title=["Mathematician"],
                company=[{"target_object": "companies", "domains": [{"domain": "acme.com"}]}],
            ),
        ),
        200,
    )
    person_id = person["data"]["id"]["record_id"]
    deal = await expect(
        await client.post(
            DEALS,
            json=values(
                external_id="deal-1",
                amount=[1250.5],
                won=[True],
                value=[{"currency_value": 499.99}],
                close_date=["2026-01-31"],
                closed_at=["2026-01-31T12:00:00Z"],
                rating=[{"value": 4}],
                stage=[{"option": "Won"}],
                labels=["Hot", "Renewal"],
                website=["https://acme.com/pricing"],
                hotline=["+15558675309"],
                contact=[{"target_object": "people", "target_record_id": person_id}],
                account="acme.com",
            ),
        ),
        200,
    )
    deal_url = f"{DEALS}/{deal['data']['id']['record_id']}"
    await expect(await client.get(deal_url), 200)
    await expect(await client.patch(deal_url, json=values(labels=["Hot"], amount=[3])), 200)
    await expect(await client.put(deal_url, json=values(labels=[], won=None)), 200)
    await expect(await client.delete(deal_url), 200)
    await expect(await client.get(deal_url), 404)
    await expect(await client.patch(deal_url, json=values(amount=[1])), 404)
    await expect(await client.put(deal_url, json=values(amount=[1])), 404)
    await expect(await client.delete(deal_url), 404)
    await expect(await client.post("/v2/objects/planets/records", json=values()), 404)
    assert_clean(transport)


async def test_record_write_errors(
    client: httpx.AsyncClient, transport: ValidatingTransport, deals: None
) -> None:
    await expect(await client.post(DEALS, json=values(external_id=["d-1"])), 200)
    await expect(await client.post(DEALS, json=values(external_id=["d-1"])), 400)
    await expect(await client.post(DEALS, json=values(shoe_size=[1])), 400)
    await expect(await client.post(DEALS, json=values(amount=["many"])), 400)
    await expect(await client.post(DEALS, json=values(stage=["Lost"])), 400)
    await expect(await client.post(DEALS, json=values(amount=[1, 2])), 400)
    missing_contact = {"target_object": "people", "target_record_id": MISSING_ID}
    await expect(await client.post(DEALS, json=values(contact=[missing_contact])), 400)
    required = attribute("region", "text", is_required=True)
    await expect(await client.post("/v2/objects/deals/attributes", json=required), 200)
    await expect(await client.post(DEALS, json=values(external_id=["d-2"])), 400)
    assert_clean(transport)


async def test_assert(client: httpx.AsyncClient, transport: ValidatingTransport) -> None:
    def assert_person(matching: str, **attribute_values: object):
        params = {"matching_attribute": matching}
        return client.put(PEOPLE, params=params, json=values(**attribute_values))

    await expect(await assert_person("email_addresses", email_addresses=["a@example.com"]), 200)
    await expect(
        await assert_person("email_addresses", email_addresses=["a@example.com"], job_title="x"),
        200,
    )
    await expect(await assert_person("email_addresses", email_addresses=["b@example.com"]), 200)
    both = ["a@example.com", "b@example.com"]
    await expect(await assert_person("email_addresses", email_addresses=both), 400)
    await expect(await assert_person("job_title", job_title=["x"]), 400)
    await expect(await assert_person("shoe_size", job_title=["x"]), 400)
    await expect(await assert_person("email_addresses", job_title=["x"]), 400)
    await expect(
        await client.put(
            "/v2/objects/planets/records", params={"matching_attribute": "x"}, json=values()
        ),
        404,
    )
    assert_clean(transport)


async def test_query(
    client: httpx.AsyncClient, transport: ValidatingTransport, sandbox: SandboxState
) -> None:
    for number in range(5):
        sandbox.store.create_record(
            "people",
            {"email_addresses": [f"p{number}@example.com"], "name": f"Person{number}, Some"},
        )
    url = f"{PEOPLE}/query"
    bodies = [
        {},
        {"filter": {"email_addresses": "p1@example.com"}},
        {"filter": {"name": {"full_name": {"$eq": "Some Person2"}}}},
        {"filter": {"$or": [{"email_addresses": {"email_address": {"$eq": "p3@example.com"}}}]}},
        {"filter": {"record_id": {"$in": [MISSING_ID]}}},
        {"sorts": [{"direction": "desc", "attribute": "name", "field": "last_name"}]},
        {"limit": 2, "offset": 2},
    ]
    for body in bodies:
        await expect(await client.post(url, json=body), 200)
    await expect(await client.post(url, json={"filter": {"$bogus": []}}), 400)
    await expect(await client.post("/v2/objects/planets/records/query", json={}), 404)
    assert_clean(transport)


async def test_gateway_errors(
    client: httpx.AsyncClient, transport: ValidatingTransport, sandbox: SandboxState
) -> None:
    await expect(await client.get("/v2/self", headers={"Authorization": ""}), 401)

    sandbox.configure_faults(rate_limits=True, write_rate=1)
    await expect(await client.post(PEOPLE, json=values(job_title=["a"])), 200)
    await expect(await client.post(PEOPLE, json=values(job_title=["b"])), 429)
    sandbox.configure_faults(rate_limits=False)

    for status in (500, 502, 503):
        sandbox.configure_faults(server_error_rate=1.0, server_error_statuses=[status])
        await expect(await client.get("/v2/objects"), status)
    sandbox.configure_faults(server_error_rate=0.0, timeout_rate=1.0, timeout_seconds=0.01)
    await expect(await client.get("/v2/objects"), 504)
    sandbox.configure_faults(timeout_rate=0.0, conflict_rate=1.0)
    await expect(await client.post(PEOPLE, json=values(job_title=["c"])), 409)
    sandbox.configure_faults(conflict_rate=0.0, burst_rate=1.0, burst_seconds=0.05)
    await expect(await client.post(f"{PEOPLE}/query", json={}), 429)
    assert_clean(transport)


async def test_webhooks(client: httpx.AsyncClient, transport: ValidatingTransport) -> None:
    not_ours = {"$and": [{"field": "actor.type", "operator": "not_equals", "value": "api-token"}]}
    subscriptions = [
        {"event_type": "record.created", "filter": None},
        {"event_type": "record.updated", "filter": not_ours},
        {"event_type": "list-entry.created", "filter": {"$or": []}},
    ]
    body = {"data": {"target_url": WEBHOOK_URL, "subscriptions": subscriptions}}
    created = await expect(await client.post("/v2/webhooks", json=body), 200)
    await expect(await client.post("/v2/webhooks", json=body), 409)
    both = {"$and": [], "$or": []}
    invalid = {
        "data": {"target_url": WEBHOOK_URL, "subscriptions": [{**subscriptions[0], "filter": both}]}
    }
    await expect(await client.post("/v2/webhooks", json=invalid), 400)

    await expect(await client.get("/v2/webhooks"), 200)
    await expect(await client.get("/v2/webhooks", params={"limit": 100, "offset": 1}), 200)
    url = f"/v2/webhooks/{created['data']['id']['webhook_id']}"
    await expect(await client.get(url), 200)
    await expect(await client.get(f"/v2/webhooks/{MISSING_ID}"), 404)
    await expect(await client.patch(url, json={"data": {"subscriptions": subscriptions[:1]}}), 200)
    moved = {"data": {"target_url": "https://elsewhere.example.com/hook"}}
    await expect(await client.patch(url, json=moved), 200)
    await expect(await client.patch(f"/v2/webhooks/{MISSING_ID}", json=moved), 404)
    await expect(await client.delete(url), 200)
    await expect(await client.delete(url), 404)
    assert_clean(transport)


async def test_workspace_members_and_tasks(
    client: httpx.AsyncClient, transport: ValidatingTransport, sandbox: SandboxState
) -> None:
    (member,) = (await expect(await client.get("/v2/workspace_members"), 200))["data"]
    member_id = member["id"]["workspace_member_id"]
    await expect(await client.get(f"/v2/workspace_members/{member_id}"), 200)
    await expect(await client.get(f"/v2/workspace_members/{MISSING_ID}"), 404)
    person = await expect(
        await client.post(PEOPLE, json=values(email_addresses=["ada@example.com"])), 200
    )
    task = {
        "content": "Look at the dead ledger entries",
        "format": "plaintext",
        "deadline_at": "2026-12-08T09:00:00Z",
        "is_completed": False,
        "linked_records": [
            {"target_object": "people", "target_record_id": person["data"]["id"]["record_id"]}
        ],
        "assignees": [{"workspace_member_email_address": member["email_address"]}],
    }
    created = await expect(await client.post("/v2/tasks", json={"data": task}), 200)
    task_id = created["data"]["id"]["task_id"]
    assert created["data"]["assignees"] == [
        {"referenced_actor_type": "workspace-member", "referenced_actor_id": member_id}
    ]
    await expect(await client.get(f"/v2/tasks/{task_id}"), 200)
    done = await client.patch(f"/v2/tasks/{task_id}", json={"data": {"is_completed": True}})
    assert (await expect(done, 200))["data"]["is_completed"] is True
    listed = await expect(await client.get("/v2/tasks", params={"is_completed": "true"}), 200)
    assert [t["id"]["task_id"] for t in listed["data"]] == [task_id]
    await expect(await client.get(f"/v2/tasks/{MISSING_ID}"), 404)
    await expect(await client.delete(f"/v2/tasks/{task_id}"), 200)
    assert sandbox.tasks.tasks == {}
    assert_clean(transport)
