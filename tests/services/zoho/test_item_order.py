"""Item webhooks that carry no `last_modified_time`: Zoho's item schemas do not promise one.

Without Zoho's time the stale guard cannot order a delivery, so the bridge writes what Zoho
holds now (fetched before writing) and never the body of a delivery that may be late.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from fastapi import FastAPI

from app.services.zoho.model import ServiceState, ZohoOrigin
from app.services.zoho.writer import ServiceWriter
from testkit.fake_zoho import CRM_PRODUCTS_SCOPE, ITEM, FakeZoho
from testkit.signing import zoho_signed_headers
from tests.conftest import sandbox_attio_client
from tests.e2e.conftest import Harness, bootstrap
from tests.services.zoho.conftest import zoho_of

ITEM_ID = ITEM["item_id"]
UNTIMED = {k: v for k, v in ITEM.items() if k != "last_modified_time"}


def post(h: Harness, item: dict[str, Any]) -> dict[str, Any]:
    body = json.dumps({"item": item}).encode()
    response = h.client.post("/webhooks/zoho", content=body, headers=zoho_signed_headers(body))
    assert response.status_code == 200, response.text
    return response.json()


def service(h: Harness) -> dict[str, Any]:
    (record,) = [r["values"] for r in h.records("services")]
    return record


def ledger(h: Harness) -> list[dict[str, Any]]:
    return [r["values"] for r in h.records("bridge_events")]


@pytest.fixture
def zoho(harness: Harness) -> FakeZoho:
    # As Books' get-item schema allows: the item Zoho answers has no last_modified_time either.
    fake = FakeZoho([{**UNTIMED, "name": "Workshop v2", "rate": 300.0}])
    zoho_of(harness).use_zoho_client(fake.client())
    return fake


def test_a_late_untimed_delivery_does_not_overwrite_newer_data(
    harness: Harness, zoho: FakeZoho
) -> None:
    newer = {
        **ITEM,
        "name": "Workshop v2",
        "rate": 300.0,
        "last_modified_time": "2026-05-03T09:00:00-0700",
    }
    post(harness, newer)
    assert post(harness, UNTIMED)["processed"] == 1  # v1's content, delivered late
    record = service(harness)
    assert record["name"] == "Workshop v2" and record["rate"] == 300.0
    assert record["zoho_last_modified_at"] == "2026-05-03T16:00:00.000000000Z"
    assert zoho.calls[f"GET /books/v3/items/{ITEM_ID}"] == 1
    assert harness.writes_to("services") == 1  # Zoho's current state was there already


def test_an_untimed_delivery_writes_what_zoho_holds_now(harness: Harness, zoho: FakeZoho) -> None:
    assert post(harness, UNTIMED)["processed"] == 1
    record = service(harness)
    assert record["name"] == "Workshop v2" and record["rate"] == 300.0
    assert zoho.calls[f"GET /books/v3/items/{ITEM_ID}"] == 1


def test_an_untimed_delivery_of_an_item_gone_from_zoho_marks_it_inactive(
    harness: Harness, zoho: FakeZoho
) -> None:
    post(harness, ITEM)
    zoho.items.clear()  # deleted in Zoho since
    post(harness, UNTIMED)
    assert service(harness)["status"] == "inactive"


def test_a_timed_delivery_is_written_without_asking_zoho(harness: Harness, zoho: FakeZoho) -> None:
    post(harness, ITEM)
    assert service(harness)["name"] == "Onboarding workshop"
    assert not zoho.calls


def test_an_untimed_delivery_without_zoho_access_is_recorded_for_retry(harness: Harness) -> None:
    assert post(harness, UNTIMED)["recorded"] == 1
    assert harness.records("services") == []
    (entry,) = ledger(harness)
    assert entry["status"] == "failed" and "ZohoNotConfiguredError" in entry["error"]


def test_an_untimed_delivery_without_the_items_scope_is_dead_naming_it(
    harness: Harness,
) -> None:
    zoho = FakeZoho([UNTIMED], scopes={CRM_PRODUCTS_SCOPE})
    zoho_of(harness).use_zoho_client(zoho.client())
    assert post(harness, UNTIMED)["recorded"] == 1
    (entry,) = ledger(harness)
    assert entry["status"] == "dead"
    assert "ZohoBooks.settings.READ" in entry["error"]
    assert zoho.tokens_issued == 1


async def test_concurrent_untimed_deliveries_write_the_later_fetch_last(
    sandbox_app: FastAPI,
) -> None:
    # The first fetch is slow and answers the older state; without the lock around fetch and
    # write, it would land after the second (newer) one.
    await bootstrap(sandbox_app)
    first_fetched = asyncio.Event()
    answers = iter(
        [
            ServiceState(ITEM_ID, name="older", zoho_source=ZohoOrigin.books),
            ServiceState(ITEM_ID, name="newer", zoho_source=ZohoOrigin.books),
        ]
    )

    async def slow_older() -> ServiceState | None:
        state = next(answers)
        first_fetched.set()
        await asyncio.sleep(0.05)
        return state

    async def newer() -> ServiceState | None:
        return next(answers)

    async with sandbox_attio_client(sandbox_app) as attio:
        writer = ServiceWriter(attio)
        first = asyncio.create_task(writer.apply_fetched(ITEM_ID, slow_older))
        await first_fetched.wait()
        await asyncio.gather(first, writer.apply_fetched(ITEM_ID, newer))
        stored = await writer.current(ITEM_ID)
    assert stored is not None and stored.state.name == "newer"
