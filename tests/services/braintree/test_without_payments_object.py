"""ATTIO_PAYMENTS_OBJECT=false: no `payments` object; each subscription keeps its latest payment
and open dispute, on a sandbox workspace limited to Attio Plus's five objects.

Fixture timestamps: charge 05-02, disbursed 05-04, dispute opened 05-20, went active 06-05,
dispute won 06-18.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from app.metrics import REGISTRY
from tests.e2e.conftest import Harness, start_harness
from tests.services.braintree.support import (
    assert_has,
    attio_calls,
    post_fixture,
    stale_events,
)

CHARGE = "subscription_charged_successfully"
PLUS_OBJECTS = 5


@pytest.fixture
def harness() -> Iterator[Harness]:
    yield from start_harness({"ATTIO_PAYMENTS_OBJECT": "false"}, max_objects=PLUS_OBJECTS)


def subscription(harness: Harness) -> dict:
    (record,) = harness.records("subscriptions")
    return record["values"]


def unplaced(kind: str) -> float:
    value = REGISTRY.get_sample_value("bridge_unplaced_events_total", {"event_type": kind})
    return value or 0.0


def test_the_layout_fits_plus_with_no_payments_object(harness: Harness) -> None:
    async def slugs() -> set[str]:
        async with harness.attio_client() as attio:
            return {o["api_slug"] for o in await attio.list_objects()}

    assert asyncio.run(slugs()) == {
        "people",
        "companies",
        "services",
        "subscriptions",
        "bridge_events",
    }


def test_a_charge_keeps_its_payment_on_the_subscription(harness: Harness) -> None:
    post_fixture(harness, CHARGE)
    values = subscription(harness)
    assert_has(
        values,
        {
            "braintree_subscription_id": "sub_7kq2mv",
            "last_payment_id": "txn_9c1pq4",
            "last_payment_status": "submitted_for_settlement",
            "last_payment_currency": "USD",
            "last_payment_at": "2024-05-02T10:14:57.000000000Z",
            "last_event_kind": CHARGE,
        },
    )
    assert values["last_payment_amount"] is not None
    # One write fewer than the full layout (no payment) and one read fewer (the payment's).
    assert attio_calls(harness, "write") == {"people": 1, "subscriptions": 1}
    assert attio_calls(harness, "read") == {"people": 1, "subscriptions": 1, "services": 1}
    # A repeat customer's charge writes the subscription alone.
    harness.sandbox.requests.clear()
    post_fixture(harness, CHARGE, timestamp="2024-06-02T10:15:00Z")
    assert attio_calls(harness, "write") == {"subscriptions": 1}


def test_a_settlement_updates_the_latest_payment(harness: Harness) -> None:
    post_fixture(harness, CHARGE)
    post_fixture(harness, "transaction_disbursed")
    assert_has(
        subscription(harness),
        {"last_payment_id": "txn_9c1pq4", "last_payment_status": "settled"},
    )


def test_an_older_charge_does_not_undo_a_newer_settlement(harness: Harness) -> None:
    post_fixture(harness, "transaction_disbursed")  # 05-04, arrives first
    post_fixture(harness, CHARGE)  # 05-02: submitted_for_settlement
    values = subscription(harness)
    assert_has(values, {"last_payment_id": "txn_9c1pq4", "last_payment_status": "settled"})
    assert values["person"] is not None  # the payer was a new fact


def test_an_older_payment_does_not_replace_the_latest(harness: Harness) -> None:
    post_fixture(harness, CHARGE)  # txn_9c1pq4, created 05-02
    older = {"txn_9c1pq4": "txn_old_1", "2024-05-02T10:14:57Z": "2024-04-02T10:14:57Z"}
    before = stale_events("transaction_disbursed")
    post_fixture(harness, "transaction_disbursed", **older)
    assert_has(
        subscription(harness),
        {"last_payment_id": "txn_9c1pq4", "last_payment_status": "submitted_for_settlement"},
    )
    assert stale_events("transaction_disbursed") == before + 1  # counted by the payment's clock


def test_a_dispute_lands_on_the_subscription_with_its_own_clock(harness: Harness) -> None:
    post_fixture(harness, CHARGE)
    post_fixture(harness, "dispute_won")  # 06-18
    post_fixture(harness, "dispute_opened")  # older: keeps the outcome
    post_fixture(harness, "transaction_disbursed")  # older than both, still a payment change
    assert_has(
        subscription(harness),
        {
            "dispute_id": "dp_8fj2k1",
            "dispute_status": "won",
            "dispute_outcome": "won",
            "last_payment_status": "settled",
        },
    )


def test_a_stale_subscription_notification_still_records_its_charge(harness: Harness) -> None:
    post_fixture(harness, "subscription_went_active")  # 06-05
    before = stale_events(CHARGE)
    post_fixture(harness, CHARGE)  # 05-02
    values = subscription(harness)
    assert_has(
        values,
        {"status": "Active", "last_event_kind": "subscription_went_active"},
    )
    assert values["last_payment_id"] == "txn_9c1pq4"
    assert stale_events(CHARGE) == before + 1


def test_a_one_off_sale_is_logged_and_counted_never_failed(harness: Harness) -> None:
    before = unplaced("transaction_settled")
    no_subscription = {
        "<subscription-id>sub_ach_3k</subscription-id>": '<subscription-id nil="true" />'
    }
    response = post_fixture(harness, "transaction_settled", **no_subscription)
    assert response.json()["processed"] == 1
    assert unplaced("transaction_settled") == before + 1
    assert harness.records("subscriptions") == []
    assert harness.records("bridge_events") == []
