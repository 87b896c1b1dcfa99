"""The bridge's own Attio client, run through the validating transport against the sandbox.

Every request the client sends and every response it gets must match Attio's published
OpenAPI document, so neither the client nor the sandbox can drift into a dialect of its own.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.clients.attio import AttioClient, AttioNotFoundError, AttioValidationError
from app.events.ledger import Ledger
from app.events.model import RawRequest, Source, WebhookEvent
from app.schema import SchemaBootstrap
from tests.contract.openapi import ValidatingTransport


@pytest.fixture
async def attio(transport: ValidatingTransport):
    async with AttioClient(
        api_key="contract-test-token",
        base_url="http://attio.sandbox",
        transport=transport,
        write_rate=10_000,
        read_rate=10_000,
        max_attempts=1,
    ) as client:
        yield client


def assert_clean(transport: ValidatingTransport) -> None:
    assert transport.checked > 0
    assert transport.violations == [], "\n".join(str(v) for v in transport.violations)


async def test_every_client_method_speaks_attios_contract(
    attio: AttioClient, transport: ValidatingTransport
) -> None:
    await attio.get_self()
    schema = await SchemaBootstrap(attio, currency_code="USD").run(apply=True)
    assert schema.complete
    await SchemaBootstrap(attio, currency_code="USD").run(apply=False)
    assert (await attio.get_object("services"))["api_slug"] == "services"

    person = await attio.assert_record(
        "people",
        matching_attribute="email_addresses",
        values={
            "email_addresses": ["ada@example.com"],
            "name": [{"first_name": "Ada", "last_name": "Lovelace", "full_name": "Ada Lovelace"}],
            "braintree_customer_id": "cust_1",
        },
    )
    service = await attio.assert_record(
        "services",
        matching_attribute="zoho_item_id",
        values={
            "zoho_item_id": "2000000000101",
            "name": "Onboarding workshop",
            "rate": "250.00",
            "status": "active",
            "product_type": "service",
            "zoho_last_modified_at": "2026-05-02T16:14:03Z",
        },
    )
    subscription = await attio.assert_record(
        "subscriptions",
        matching_attribute="braintree_subscription_id",
        values={
            "braintree_subscription_id": "sub_1",
            "status": "Active",
            "price": "49.99",
            "next_billing_date": "2026-06-01",
            "failure_count": 0,
            "person": [{"target_object": "people", "email_addresses": ["ada@example.com"]}],
            "service": [
                {"target_object": "services", "target_record_id": service["id"]["record_id"]}
            ],
        },
    )
    record_id = subscription["id"]["record_id"]
    await attio.get_record("subscriptions", record_id)
    await attio.update_record("subscriptions", record_id, {"status": "Past Due"})
    await attio.update_record(
        "people",
        person["id"]["record_id"],
        {"email_addresses": ["ada@example.com", "ada@work.example"]},
        overwrite_multiselect=True,
    )
    history = await attio.value_history("subscriptions", record_id, "status")
    assert [(v["option"]["title"], v["active_until"] is None) for v in history] == [
        ("Active", False),
        ("Past Due", True),
    ]
    rows = await attio.query_records(
        "subscriptions",
        filter={"status": "Past Due"},
        sorts=[{"direction": "desc", "attribute": "next_billing_date"}],
        limit=10,
    )
    assert len(rows) == 1
    assert [r async for r in attio.iter_records("services", page_size=1)]
    await attio.list_select_options("payments", "status")
    await attio.delete_record("subscriptions", record_id)
    with pytest.raises(AttioNotFoundError):
        await attio.get_record("subscriptions", record_id)
    with pytest.raises(AttioValidationError):
        await attio.assert_record("services", matching_attribute="name", values={"name": "x"})
    assert_clean(transport)


async def test_ledger_writes_speak_attios_contract(
    attio: AttioClient, transport: ValidatingTransport
) -> None:
    await SchemaBootstrap(attio, currency_code="USD").run(apply=True)
    ledger = Ledger(attio)
    event = WebhookEvent(
        source=Source.attio,
        event_type="record.updated",
        event_key="attio:contract:0",
        occurred_at=datetime(2026, 5, 2, tzinfo=UTC),
        raw=RawRequest(body='{"events": []}', headers={"content-type": "application/json"}),
    )
    await ledger.record_failure(event, "AttioServerError: down", permanent=False, previous=None)
    entry = await ledger.get(event.event_key)
    assert entry is not None
    await ledger.record_failure(event, "again", permanent=False, previous=entry)
    await ledger.mark_succeeded(event, entry)
    await ledger.list_entries(status=None, source=Source.attio)
    await ledger.due()
    await ledger.is_failed(event.event_key)
    await ledger.record_attention(event, "person deleted in Attio")
    assert_clean(transport)


async def test_webhook_methods_speak_attios_contract(
    attio: AttioClient, transport: ValidatingTransport
) -> None:
    people = (await attio.get_object("people"))["id"]["object_id"]
    subscriptions = [
        {
            "event_type": "record.updated",
            "filter": {
                "$and": [
                    {"field": "id.object_id", "operator": "equals", "value": people},
                    {"field": "actor.type", "operator": "not_equals", "value": "api-token"},
                ]
            },
        }
    ]
    url = "https://bridge.example.com/webhooks/attio"
    created = await attio.create_webhook(target_url=url, subscriptions=subscriptions)
    assert created["secret"]
    webhook_id = created["id"]["webhook_id"]
    assert [w["id"]["webhook_id"] for w in await attio.list_webhooks()] == [webhook_id]
    subscriptions.append({"event_type": "record.merged", "filter": None})
    updated = await attio.update_webhook(webhook_id, target_url=url, subscriptions=subscriptions)
    assert len(updated["subscriptions"]) == 2
    await attio.delete_webhook(webhook_id)
    assert await attio.list_webhooks() == []
    assert_clean(transport)


async def test_alert_methods_speak_attios_contract(
    attio: AttioClient, transport: ValidatingTransport
) -> None:
    await SchemaBootstrap(attio, currency_code="USD").run(apply=True)
    (member,) = await attio.list_workspace_members()
    person = await attio.assert_record(
        "people", matching_attribute="email_addresses", values={"email_addresses": ["a@b.com"]}
    )
    task = await attio.create_task(
        content="[critical] ledger.dead: 3 dead from braintree",
        deadline_at="2026-12-08T09:00:00Z",
        assignee_ids=[member["id"]["workspace_member_id"]],
        linked_records=[("people", person["id"]["record_id"])],
    )
    await attio.update_task(task["id"]["task_id"], deadline_at="2026-12-09T09:00:00Z")
    done = await attio.update_task(task["id"]["task_id"], is_completed=True)
    assert done["is_completed"] is True
    assert_clean(transport)
