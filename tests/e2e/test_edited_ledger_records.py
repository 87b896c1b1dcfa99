"""An edited ledger record is refused, never processed: one test per source.

Each test leaves a failed event in `bridge_events`, edits the stored record in the Attio
sandbox the way someone with access to Attio's UI could, then replays it through the admin API.
Attio's own source is covered in `test_ledger.py`. Sources that re-fetch from Zoho may instead
show that the edit has no effect.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest
from fastapi.testclient import TestClient

from app.events.model import Source
from app.events.sources.zoho_sync import sync_failure_event
from app.main import create_app
from testkit.fake_zoho import FakeZoho
from testkit.signing import braintree_sample, braintree_sample_form, zoho_signed_headers
from tests.conftest import make_sandbox
from tests.e2e.conftest import ADMIN_TOKEN, Harness, bootstrap, bridge_settings
from tests.e2e.test_ledger import FlakyHandler
from tests.services.zoho.conftest import CRM_CHANNEL_ID, CRM_TOKEN
from tests.services.zoho.test_webhooks import notify

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
PRODUCT_ID = "5725767000000412001"


@pytest.fixture
def crm_harness() -> Iterator[Harness]:
    sandbox_app = make_sandbox()
    asyncio.run(bootstrap(sandbox_app))
    settings = bridge_settings(ZOHO_CRM_NOTIFY_TOKEN=CRM_TOKEN, ZOHO_CRM_CHANNEL_IDS=CRM_CHANNEL_ID)
    app = create_app(settings, attio_transport=httpx.ASGITransport(app=sandbox_app))
    with TestClient(app) as client:
        yield Harness(app, client, sandbox_app.state.sandbox, sandbox_app)


def only_record(h: Harness) -> dict:
    (record,) = h.records("bridge_events")
    return record["values"]


def edit_body(h: Harness, event_key: str, change: Callable[[str], str]) -> None:
    async def run() -> None:
        async with h.attio_client() as attio:
            (row,) = await attio.query_records("bridge_events", filter={"event_key": event_key})
            body = row["values"]["raw_body"][0]["value"]
            await attio.update_record(
                "bridge_events", row["id"]["record_id"], {"raw_body": change(body)}
            )

    asyncio.run(run())


def replay(h: Harness, event_key: str) -> dict:
    response = h.client.post(f"/admin/events/{event_key}/replay", headers=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()


def test_braintree_edited_record_is_refused(harness: Harness) -> None:
    handler = FlakyHandler(failures=1)
    harness.bridge.dispatcher.register(Source.braintree, "subscription_went_active", handler)
    body = braintree_sample_form("subscription_went_active", "sub_1")
    response = harness.client.post(
        "/webhooks/braintree",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.json()["recorded"] == 1
    key = only_record(harness)["event_key"]
    _, other_payload = braintree_sample("subscription_went_active", "sub_2")

    def swap_payload(stored: str) -> str:
        fields = dict(parse_qsl(stored))
        return urlencode({**fields, "bt_payload": other_payload.decode()})

    edit_body(harness, key, swap_payload)
    assert replay(harness, key)["status"] == "refused"
    assert len(handler.calls) == 1


def test_zoho_item_edited_record_is_refused(harness: Harness) -> None:
    handler = FlakyHandler(failures=1)
    harness.bridge.dispatcher.register(Source.zoho, "item", handler)
    body = json.dumps({"item": {"item_id": "2000000000101", "name": "Workshop"}}).encode()
    response = harness.client.post(
        "/webhooks/zoho", content=body, headers=zoho_signed_headers(body)
    )
    assert response.json()["recorded"] == 1
    key = only_record(harness)["event_key"]
    edit_body(harness, key, lambda stored: stored.replace("Workshop", "Free workshop"))
    assert replay(harness, key)["status"] == "refused"
    assert len(handler.calls) == 1


def notify_crm(h: Harness, operation: str) -> dict:
    return notify(h, operation, PRODUCT_ID)


def test_zoho_crm_record_holds_no_token_and_an_edit_is_refused(crm_harness: Harness) -> None:
    # No Zoho API access yet: the re-fetch fails and the event goes to the ledger.
    assert notify_crm(crm_harness, "update")["recorded"] == 1
    record = only_record(crm_harness)
    assert CRM_TOKEN not in json.dumps(record)
    key = record["event_key"]

    zoho = FakeZoho()
    zoho.crm_products[PRODUCT_ID] = {
        "id": PRODUCT_ID,
        "Product_Name": "Coaching",
        "Unit_Price": 400,
        "Product_Active": True,
        "Modified_Time": "2026-05-02T09:14:03+00:00",
    }
    services = crm_harness.bridge.zoho_service
    assert services is not None
    services.use_zoho_client(zoho.client())

    original = record["raw_body"]
    edit_body(crm_harness, key, lambda stored: stored.replace('"update"', '"delete"'))
    assert replay(crm_harness, key)["status"] == "refused"
    assert crm_harness.records("services") == []

    # Unedited, the replay fetches the product from Zoho and writes what Zoho says.
    edit_body(crm_harness, key, lambda _stored: original)
    assert replay(crm_harness, key)["status"] == "replayed"
    (service,) = crm_harness.records("services")
    assert service["values"]["name"] == "Coaching" and service["values"]["status"] == "active"
    assert zoho.calls[f"GET /crm/v8/Products/{PRODUCT_ID}"] == 1


def test_zoho_sync_failure_edit_is_refused_or_has_no_effect(harness: Harness) -> None:
    zoho = FakeZoho.with_items(2)
    kept, other = zoho.item_ids()
    event = sync_failure_event(zoho_item_id=kept, source="books", version="v1", operation=None)
    asyncio.run(
        harness.bridge.ledger.record_failure(
            event, "AttioServerError", permanent=False, previous=None
        )
    )
    services = harness.bridge.zoho_service
    assert services is not None
    services.use_zoho_client(zoho.client())

    # Pointed at another item, the record no longer holds its own event.
    edit_body(harness, event.event_key, lambda stored: stored.replace(kept, other))
    assert replay(harness, event.event_key)["status"] == "refused"
    assert harness.records("services") == []

    # Any other edit changes nothing: the item is fetched from Zoho, as Zoho has it.
    def forge(_stored: str) -> str:
        data = json.loads(event.raw.body) | {"operation": "deactivate", "name": "Forged"}
        return json.dumps(data)

    edit_body(harness, event.event_key, forge)
    assert replay(harness, event.event_key)["status"] == "replayed"
    (service,) = harness.records("services")
    assert service["values"]["name"] == "Service 0" and service["values"]["status"] == "active"
