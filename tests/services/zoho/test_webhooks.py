"""Zoho webhooks end to end: signed item webhooks and CRM notifications → Attio `services`."""

from __future__ import annotations

import json
from typing import Any

from testkit.fake_zoho import ITEM, FakeZoho
from testkit.signing import FORM_CONTENT_TYPE, zoho_signed_headers
from tests.e2e.conftest import Harness
from tests.services.zoho.conftest import CRM_CHANNEL_ID, CRM_TOKEN, zoho_of


def post_item(h: Harness, item: dict[str, Any], *, query: str = "") -> dict[str, Any]:
    body = json.dumps({"item": item}).encode()
    url = f"/webhooks/zoho?{query}" if query else "/webhooks/zoho"
    response = h.client.post(url, content=body, headers=zoho_signed_headers(body, raw_query=query))
    assert response.status_code == 200, response.text
    return response.json()


def services(h: Harness) -> dict[str, dict[str, Any]]:
    return {r["values"]["zoho_item_id"]: r["values"] for r in h.records("services")}


def ledger(h: Harness) -> dict[str, dict[str, Any]]:
    return {r["values"]["event_key"]: r["values"] for r in h.records("bridge_events")}


def test_signed_item_webhook_creates_the_service(harness: Harness) -> None:
    assert post_item(harness, ITEM)["processed"] == 1
    assert services(harness)["2000000000101"] == {
        "name": "Onboarding workshop",
        "zoho_item_id": "2000000000101",
        "sku": "SVC-ONB-1",
        "description": "Half-day remote session",
        "rate": 250.0,
        "unit": "session",
        "product_type": "service",
        "status": "active",
        "zoho_source": "books",
        "zoho_last_modified_at": "2026-05-02T16:14:03.000000000Z",
    }
    assert harness.writes_to("services") == 1


def test_edit_updates_only_what_changed(harness: Harness) -> None:
    post_item(harness, ITEM)
    edited = {**ITEM, "rate": 275.0, "last_modified_time": "2026-05-03T09:00:00-0700"}
    post_item(harness, edited)
    record = services(harness)["2000000000101"]
    assert record["rate"] == 275.0 and record["name"] == "Onboarding workshop"
    assert harness.writes_to("services") == 2


def test_redelivery_of_the_same_version_writes_nothing(harness: Harness) -> None:
    post_item(harness, ITEM)
    assert post_item(harness, ITEM)["processed"] == 1
    assert harness.writes_to("services") == 1


def test_inactive_item_marks_the_service_inactive(harness: Harness) -> None:
    post_item(harness, ITEM)
    post_item(
        harness, {**ITEM, "status": "inactive", "last_modified_time": "2026-05-04T10:00:00-0700"}
    )
    assert services(harness)["2000000000101"]["status"] == "inactive"


def test_deleted_item_is_marked_inactive_never_deleted(harness: Harness) -> None:
    post_item(harness, ITEM)
    post_item(harness, {"item_id": "2000000000101"}, query="action=deleted")
    record = services(harness)["2000000000101"]
    assert record["status"] == "inactive"
    assert record["name"] == "Onboarding workshop"  # the rest is kept for deals that point here
    assert harness.sandbox.requests.count(method="DELETE") == 0


def test_deletion_carrying_the_last_content_writes_it_inactive(harness: Harness) -> None:
    post_item(harness, ITEM)
    # The edit to v2 is delivered late (after the deletion that carries v2's content).
    v2 = {**ITEM, "name": "Workshop v2", "last_modified_time": "2026-05-03T09:00:00-0700"}
    deletion = {**v2, "last_modified_time": "2026-05-04T09:00:00-0700"}
    post_item(harness, deletion, query="action=deleted")
    post_item(harness, v2)
    record = services(harness)["2000000000101"]
    assert record["name"] == "Workshop v2" and record["status"] == "inactive"
    assert record["zoho_last_modified_at"] == "2026-05-04T16:00:00.000000000Z"


def test_deletion_of_an_unknown_item_writes_nothing(harness: Harness) -> None:
    assert post_item(harness, {"item_id": "999", "deleted": True})["processed"] == 1
    assert harness.writes_to("services") == 0


def test_stale_webhook_is_ignored(harness: Harness) -> None:
    newer = {**ITEM, "name": "Workshop v2", "last_modified_time": "2026-05-05T09:00:00-0700"}
    post_item(harness, newer)
    writes = harness.writes_to("services")
    assert post_item(harness, ITEM)["processed"] == 1  # older version, delivered late
    assert services(harness)["2000000000101"]["name"] == "Workshop v2"
    assert harness.writes_to("services") == writes


def test_partial_body_is_completed_from_zoho(harness: Harness, fake_zoho: FakeZoho) -> None:
    zoho_of(harness).use_zoho_client(fake_zoho.client())
    item_id = fake_zoho.item_ids()[1]
    body = f"item_id={item_id}".encode()
    headers = zoho_signed_headers(body, content_type=FORM_CONTENT_TYPE)
    response = harness.client.post("/webhooks/zoho", content=body, headers=headers)
    assert response.json()["processed"] == 1
    assert services(harness)[item_id]["name"] == "Service 1"
    assert fake_zoho.calls[f"GET /books/v3/items/{item_id}"] == 1


def test_partial_body_without_zoho_access_is_recorded_for_retry(harness: Harness) -> None:
    body = b"item_id=2000000000101"
    headers = zoho_signed_headers(body, content_type=FORM_CONTENT_TYPE)
    response = harness.client.post("/webhooks/zoho", content=body, headers=headers)
    assert response.json()["recorded"] == 1
    (record,) = ledger(harness).values()
    assert record["status"] == "failed"
    assert "ZohoNotConfiguredError" in record["error"]


# -- CRM notifications -----------------------------------------------------------------------


def notify(h: Harness, operation: str, *ids: str, server_time: int = 1_778_000_000_000) -> dict:
    body = {
        "server_time": server_time,
        "query_params": {},
        "module": "Products",
        "resource_uri": "https://www.zohoapis.com/crm/v2/Products",
        "ids": list(ids),
        "affected_fields": [],
        "operation": operation,
        "channel_id": CRM_CHANNEL_ID,
        "token": CRM_TOKEN,
    }
    response = h.client.post("/webhooks/zoho/crm", json=body)
    assert response.status_code == 200, response.text
    return response.json()


PRODUCT = {
    "id": "5725767000000412001",
    "Product_Name": "Coaching",
    "Product_Code": "SVC-COACH",
    "Unit_Price": 400,
    "Usage_Unit": "month",
    "Product_Active": True,
    "Description": "Monthly coaching",
    "Modified_Time": "2026-05-02T09:14:03+00:00",
}


def test_crm_notification_fetches_and_asserts_the_product(crm_harness: Harness) -> None:
    zoho = FakeZoho()
    zoho.crm_products[PRODUCT["id"]] = dict(PRODUCT)
    zoho_of(crm_harness).use_zoho_client(zoho.client())
    assert notify(crm_harness, "insert", PRODUCT["id"])["processed"] == 1
    record = services(crm_harness)[PRODUCT["id"]]
    assert record["name"] == "Coaching" and record["rate"] == 400
    assert record["zoho_source"] == "crm" and record["status"] == "active"

    zoho.crm_products[PRODUCT["id"]].update(
        Product_Active=False, Modified_Time="2026-05-03T09:00:00+00:00"
    )
    notify(crm_harness, "update", PRODUCT["id"])
    assert services(crm_harness)[PRODUCT["id"]]["status"] == "inactive"


def test_crm_delete_marks_the_product_inactive(crm_harness: Harness) -> None:
    zoho = FakeZoho()
    zoho.crm_products[PRODUCT["id"]] = dict(PRODUCT)
    zoho_of(crm_harness).use_zoho_client(zoho.client())
    notify(crm_harness, "insert", PRODUCT["id"])
    del zoho.crm_products[PRODUCT["id"]]
    assert notify(crm_harness, "delete", PRODUCT["id"])["processed"] == 1
    assert services(crm_harness)[PRODUCT["id"]]["status"] == "inactive"


def test_crm_delete_is_confirmed_with_zoho_and_its_time_proves_nothing(
    crm_harness: Harness,
) -> None:
    zoho = FakeZoho()
    zoho.crm_products[PRODUCT["id"]] = dict(PRODUCT)
    zoho_of(crm_harness).use_zoho_client(zoho.client())
    notify(crm_harness, "insert", PRODUCT["id"])
    # Anyone with the channel token: "deleted", stamped in the year 2100.
    assert notify(crm_harness, "delete", PRODUCT["id"], server_time=4_102_444_800_000)["processed"]
    record = services(crm_harness)[PRODUCT["id"]]
    assert record["status"] == "active"  # Zoho still has it
    assert record["zoho_last_modified_at"] == "2026-05-02T09:14:03.000000000Z"

    # A genuine later edit in Zoho is not taken for stale.
    zoho.crm_products[PRODUCT["id"]].update(
        Product_Name="Coaching v2", Modified_Time="2026-05-03T09:00:00+00:00"
    )
    notify(crm_harness, "update", PRODUCT["id"])
    assert services(crm_harness)[PRODUCT["id"]]["name"] == "Coaching v2"


# -- item webhooks at the edge ---------------------------------------------------------------


def test_split_signature_cannot_turn_a_deletion_into_an_edit(harness: Harness) -> None:
    post_item(harness, ITEM, query="action=deleted")
    assert services(harness)["2000000000101"]["status"] == "inactive"
    # The captured deletion, re-sent with its query re-split: Zoho signed "actiondeleted".
    body = json.dumps({"item": ITEM}).encode()
    headers = zoho_signed_headers(body, raw_query="action=deleted")
    response = harness.client.post("/webhooks/zoho?actiondeleted=", content=body, headers=headers)
    assert response.status_code == 400
    assert "actiondeleted" in response.json()["detail"]
    assert services(harness)["2000000000101"]["status"] == "inactive"


def test_at_an_equal_time_a_deactivation_wins(harness: Harness) -> None:
    post_item(harness, ITEM, query="action=deleted")  # the deletion, carrying the content
    post_item(harness, ITEM)  # the edit of the same version, delivered after it
    assert services(harness)["2000000000101"]["status"] == "inactive"


def test_unusable_rate_is_a_400_and_nothing_is_recorded(harness: Harness) -> None:
    for rate in ("1e29", "1" * 4300, "NaN", "Infinity"):
        body = json.dumps({"item": ITEM}).replace("250.0", rate).encode()
        headers = zoho_signed_headers(body)
        response = harness.client.post("/webhooks/zoho", content=body, headers=headers)
        assert response.status_code == 400, (rate, response.text)
        assert response.json()["error"] == "malformed_payload"
    assert ledger(harness) == {}
    assert services(harness) == {}
