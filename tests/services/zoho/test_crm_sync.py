"""`sync zoho` over Zoho CRM products: a fake CRM, the Attio sandbox, the ledger, the command."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.clients.attio import AttioClient, AttioServerError
from app.clients.zoho import ItemsSource
from app.config import get_settings
from app.events.ledger import Ledger
from app.events.sources.zoho_sync import ZohoSyncFailureSource
from app.services.zoho.sync.catalogues import catalogues_for
from app.services.zoho.sync.engine import ZohoServicesSync
from app.services.zoho.sync.report import SyncReport
from testkit.fake_zoho import FakeZoho, make_crm_product
from tests.e2e.conftest import ADMIN_TOKEN, Harness
from tests.services.zoho.conftest import (
    CRM_CHANNEL_ID,
    CRM_TOKEN,
    fail_writes_of,
    sync_zoho_command,
    zoho_of,
)


def services(h: Harness) -> dict[str, dict[str, Any]]:
    return {r["values"]["zoho_item_id"]: r["values"] for r in h.records("services")}


def ledger(h: Harness) -> dict[str, dict[str, Any]]:
    return {r["values"]["event_key"]: r["values"] for r in h.records("bridge_events")}


async def run_sync(
    h: Harness,
    zoho: FakeZoho,
    *,
    items: bool = True,
    dry_run: bool = False,
    attio: AttioClient | None = None,
) -> SyncReport:
    """A run as `sync zoho` makes it with CRM configured (items too unless `items=False`)."""
    catalogues = catalogues_for(ItemsSource.books, items=items, crm=True)
    async with h.attio_client() as own, zoho.client() as client:
        writer = attio or own
        sync = ZohoServicesSync(writer, client, Ledger(writer), catalogues=catalogues)
        return await sync.run(dry_run=dry_run)


def test_catalogues_follow_the_configuration() -> None:
    def origins(**flags: bool) -> list[str]:
        return [c.origin.value for c in catalogues_for(ItemsSource.inventory, **flags)]

    assert origins(items=True, crm=False) == ["inventory"]
    assert origins(items=False, crm=False) == ["inventory"]  # says what is missing when run
    assert origins(items=True, crm=True) == ["inventory", "crm"]
    assert origins(items=False, crm=True) == ["crm"]


async def test_backfill_pages_through_crm_then_writes_only_what_changed(harness: Harness) -> None:
    zoho = FakeZoho.with_items(5).add_crm_products(450)
    first = await run_sync(harness, zoho)
    assert first.ok, first.error
    assert first.source == "books+crm"
    assert first.by_source["crm"].created == 450 and first.by_source["books"].created == 5
    assert first.counts.created == 455
    assert harness.writes_to("services") == 455
    # Three pages of 200, sorted by id; after the first, CRM's page token (never with `page`).
    pages = zoho.crm_list_params
    assert len(pages) == 3
    assert pages[0]["page"] == "1" and "page_token" not in pages[0]
    assert all("page_token" in p and "page" not in p for p in pages[1:])
    assert {(p["sort_by"], p["sort_order"], p["per_page"]) for p in pages} == {("id", "asc", "200")}
    product = make_crm_product(7)
    assert services(harness)[product["id"]] == {
        "name": "Product 7",
        "zoho_item_id": product["id"],
        "sku": "CRM-00007",
        "description": "Catalogue product 7",
        "rate": 57.0,
        "unit": "Box",
        "product_type": None,  # CRM products have none
        "status": "active",
        "zoho_source": "crm",
        # CRM's `+05:30` time, in UTC.
        "zoho_last_modified_at": "2026-01-05T09:00:07.000000000Z",
    }

    second = await run_sync(harness, zoho)
    assert second.counts.unchanged == 455 and second.counts.writes == 0
    assert harness.writes_to("services") == 455

    changed = zoho.crm_product_ids()[200:203]
    zoho.change_crm(changed, Unit_Price=999, Product_Active=False)
    third = await run_sync(harness, zoho)
    assert third.by_source["crm"].updated == 3 and third.counts.writes == 3
    assert harness.writes_to("services") == 458
    assert {(services(harness)[i]["rate"], services(harness)[i]["status"]) for i in changed} == {
        (999.0, "inactive")
    }
    assert harness.writes_to("bridge_events") == 0


async def test_more_than_two_thousand_products_are_read_with_page_tokens(
    harness: Harness,
) -> None:
    zoho = FakeZoho().add_crm_products(2050)
    report = await run_sync(harness, zoho, items=False)
    assert report.ok and report.counts.created == 2050
    assert len(zoho.crm_list_params) == 11
    assert zoho.calls["GET /books/v3/items"] == 0


async def test_the_sync_writes_what_a_notification_writes(crm_harness: Harness) -> None:
    """A product the notification path wrote is unchanged for the sync: the same record."""
    zoho = FakeZoho().add_crm_products(3)
    zoho_of(crm_harness).use_zoho_client(zoho.client())
    product_id = zoho.crm_product_ids()[1]
    body = {
        "channel_id": CRM_CHANNEL_ID,
        "token": CRM_TOKEN,
        "module": "Products",
        "operation": "insert",
        "ids": [product_id],
        "server_time": 1_767_600_000_000,
        "query_params": {},
        "resource_uri": "https://www.zohoapis.com/crm/v8/Products",
    }
    assert crm_harness.client.post("/webhooks/zoho/crm", json=body).status_code == 200
    notified = services(crm_harness)[product_id]

    report = await run_sync(crm_harness, zoho, items=False)
    assert report.counts.created == 2 and report.counts.unchanged == 1
    assert services(crm_harness)[product_id] == notified
    assert crm_harness.writes_to("services") == 3


async def test_dry_run_plans_crm_products_and_writes_nothing(harness: Harness) -> None:
    zoho = FakeZoho.with_items(2).add_crm_products(3)
    report = await run_sync(harness, zoho, dry_run=True)
    assert [(p.source, p.kind.value) for p in report.plan].count(("crm", "create")) == 3
    assert report.by_source["crm"].created == 3
    assert harness.sandbox.requests.count(kind="write") == 0


async def test_vanished_products_are_deactivated_and_other_sources_left_alone(
    harness: Harness,
) -> None:
    zoho = FakeZoho.with_items(3).add_crm_products(4)
    await run_sync(harness, zoho)
    gone, unlisted = zoho.crm_product_ids()[0], zoho.crm_product_ids()[1]
    del zoho.crm_products[gone]
    zoho.crm_unlisted.add(unlisted)  # missing from the list, yet CRM still has it
    report = await run_sync(harness, zoho, items=False)  # Books is not read this time
    assert report.by_source["crm"].deactivated == 1
    records = services(harness)
    assert records[gone]["status"] == "inactive" and records[gone]["name"] == "Product 0"
    assert records[unlisted]["status"] == "active"
    assert zoho.calls[f"GET /crm/v8/Products/{unlisted}"] == 1
    assert {records[i]["status"] for i in zoho.item_ids()} == {"active"}


async def test_unreadable_crm_deactivates_none_of_its_products(harness: Harness) -> None:
    zoho = FakeZoho.with_items(3).add_crm_products(450)
    await run_sync(harness, zoho)
    del zoho.items[zoho.item_ids()[0]]
    zoho.fail_crm_pages_from = 2
    report = await run_sync(harness, zoho)
    assert report.error and "Zoho crm record" in report.error
    assert report.by_source["crm"].deactivated == 0
    # Books was read completely: its vanished item is still deactivated.
    assert report.by_source["books"].deactivated == 1
    assert {r["status"] for i, r in services(harness).items() if i in zoho.crm_products} == {
        "active"
    }


async def test_a_newer_product_in_attio_is_not_overwritten(harness: Harness) -> None:
    zoho = FakeZoho().add_crm_products(2)
    await run_sync(harness, zoho, items=False)
    product_id = zoho.crm_product_ids()[0]
    async with harness.attio_client() as attio:
        await attio.assert_record(
            "services",
            matching_attribute="zoho_item_id",
            values={
                "zoho_item_id": product_id,
                "name": "Renamed by a newer notification",
                "zoho_last_modified_at": "2027-01-01T00:00:00Z",
            },
        )
    report = await run_sync(harness, zoho, items=False)
    assert report.counts.writes == 0
    assert services(harness)[product_id]["name"] == "Renamed by a newer notification"


async def test_an_id_in_both_sources_is_written_once(harness: Harness) -> None:
    zoho = FakeZoho.with_items(2).add_crm_products(1)
    shared = zoho.item_ids()[0]
    zoho.crm_products[shared] = {**make_crm_product(9), "id": shared}
    report = await run_sync(harness, zoho)
    assert report.counts.created == 3  # two items and one product, not four writes
    assert services(harness)[shared]["zoho_source"] == "books"  # the catalogue read first


# -- failures: ledger, replay, retry-due ------------------------------------------------------


async def test_a_broken_product_is_ledgered_and_its_replay_refetches_it_from_crm(
    harness: Harness,
) -> None:
    zoho = FakeZoho().add_crm_products(3)
    bad = zoho.crm_product_ids()[1]
    zoho.crm_products[bad]["Unit_Price"] = "n/a"
    report = await run_sync(harness, zoho, items=False)
    assert report.counts.created == 2 and report.by_source["crm"].failed == 1
    assert not report.ok
    (failure,) = report.failures
    assert failure.source == "crm" and failure.event_key == f"zoho:sync:{bad}:invalid"
    record = ledger(harness)[failure.event_key]
    assert record["status"] == "dead" and json.loads(record["raw_body"])["source"] == "crm"

    zoho.change_crm([bad], Unit_Price=42)
    zoho_of(harness).use_zoho_client(zoho.client())
    entry = await harness.bridge.ledger.get(failure.event_key)
    assert entry is not None
    (event,) = await ZohoSyncFailureSource().events_from(entry.raw)
    await harness.bridge.processor.process(event, previous=entry)
    assert zoho.calls[f"GET /crm/v8/Products/{bad}"] == 1
    assert services(harness)[bad]["rate"] == 42 and services(harness)[bad]["zoho_source"] == "crm"
    assert ledger(harness)[failure.event_key]["status"] == "replayed"


async def test_retry_due_refetches_a_failed_product_from_crm(harness: Harness) -> None:
    zoho = FakeZoho().add_crm_products(3)
    flaky = zoho.crm_product_ids()[2]
    async with harness.attio_client() as attio:
        fail_writes_of(attio, flaky, AttioServerError("Attio is down", attio_status=503))
        report = await run_sync(harness, zoho, items=False, attio=attio)
    (failure,) = report.failures
    assert ledger(harness)[failure.event_key]["status"] == "failed"

    zoho_of(harness).use_zoho_client(zoho.client())
    harness.bridge.ledger.clock = lambda: datetime.now(UTC) + timedelta(minutes=2)
    replayed = await harness.bridge.replayer.retry_due()
    assert [r.status.value for r in replayed.results] == ["replayed"]
    assert zoho.calls[f"GET /crm/v8/Products/{flaky}"] == 1
    assert zoho.calls["GET /books/v3/items/" + flaky] == 0
    assert services(harness)[flaky]["name"] == "Product 2"


async def test_a_product_gone_before_its_retry_becomes_inactive(harness: Harness) -> None:
    zoho = FakeZoho().add_crm_products(2)
    await run_sync(harness, zoho, items=False)
    product_id = zoho.crm_product_ids()[0]
    zoho.change_crm([product_id], Unit_Price="broken")
    report = await run_sync(harness, zoho, items=False)
    (failure,) = report.failures
    del zoho.crm_products[product_id]
    zoho_of(harness).use_zoho_client(zoho.client())
    entry = await harness.bridge.ledger.get(failure.event_key)
    assert entry is not None
    (event,) = await ZohoSyncFailureSource().events_from(entry.raw)
    await harness.bridge.processor.process(event, previous=entry)
    assert services(harness)[product_id]["status"] == "inactive"


# -- the command -----------------------------------------------------------------------------


@pytest.fixture
def sync_command(harness: Harness, monkeypatch: pytest.MonkeyPatch):
    """`attio-bridge sync zoho` with CRM configured, on the harness's sandbox and a fake Zoho."""
    zoho = FakeZoho.with_items(4).add_crm_products(6)
    crm = {"ZOHO_CRM_NOTIFY_TOKEN": CRM_TOKEN, "ZOHO_CRM_CHANNEL_IDS": CRM_CHANNEL_ID}
    yield zoho, sync_zoho_command(harness, monkeypatch, zoho, **crm)
    get_settings.cache_clear()


def test_the_command_covers_crm_products(harness: Harness, sync_command) -> None:
    zoho, invoke = sync_command
    planned = invoke("--dry-run")
    assert planned.exit_code == 0, planned.output
    assert planned.stdout.count("create     crm ") == 6
    assert "crm: created=6 updated=0 unchanged=0 deactivated=0 failed=0" in planned.stdout
    assert "dry run, would write: created=10" in planned.stdout
    assert harness.sandbox.requests.count(kind="write") == 0

    first = invoke("--json")
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert summary["source"] == "books+crm"
    assert summary["by_source"]["crm"]["created"] == 6
    assert summary["by_source"]["books"]["created"] == 4

    zoho.change_crm(zoho.crm_product_ids()[:1], Product_Name="Renamed")
    second = invoke()
    assert "crm: created=0 updated=1 unchanged=5" in second.stdout
    assert "created=0 updated=1 unchanged=9 deactivated=0 failed=0" in second.stdout
    assert harness.writes_to("services") == 11


def test_the_admin_run_covers_crm_products(harness: Harness) -> None:
    from app.routes import admin_sync  # as in test_sync: mounted once, if the app lacks it

    if not any(getattr(r, "path", None) == "/admin/sync/zoho" for r in harness.app.routes):
        harness.app.include_router(admin_sync.router)
    zoho = FakeZoho.with_items(2).add_crm_products(3)
    zoho_of(harness).use_zoho_client(zoho.client())
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    assert harness.client.post("/admin/sync/zoho", headers=headers).status_code == 202
    deadline = time.monotonic() + 20
    while (status := harness.client.get("/admin/sync/zoho", headers=headers).json())["running"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    run = status["last_run"]
    assert run["status"] == "succeeded" and run["progress"]["source"] == "books+crm"
    assert run["summary"]["by_source"]["crm"]["created"] == 3
    assert run["progress"]["by_source"]["books"]["created"] == 2
