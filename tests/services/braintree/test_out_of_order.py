"""Braintree does not deliver in order: older notifications never overwrite newer state.

Fixture timestamps: charge 05-02, disbursed 05-04, dispute opened 05-20, past due 06-03,
went active 06-05, dispute won 06-18.
"""

from __future__ import annotations

import asyncio

from tests.e2e.conftest import Harness
from tests.services.braintree.support import (
    assert_has,
    post,
    post_fixture,
    signed_fixture,
    snapshot,
    stale_events,
)

CHARGE = "subscription_charged_successfully"


def test_an_older_notification_leaves_the_newer_state(harness: Harness) -> None:
    post_fixture(harness, "subscription_went_active")
    before = snapshot(harness)
    stale_before = stale_events("subscription_went_past_due")
    post_fixture(harness, "subscription_went_past_due")  # older, arrives late
    assert snapshot(harness) == before
    assert stale_events("subscription_went_past_due") == stale_before + 1
    assert_has(
        harness.records("subscriptions")[0]["values"],
        {"status": "Active", "days_past_due": None, "last_event_kind": "subscription_went_active"},
    )


def test_an_older_charge_still_records_its_transaction(harness: Harness) -> None:
    post_fixture(harness, "subscription_went_past_due")  # no customer data in it
    post_fixture(harness, CHARGE)  # older
    (person,) = harness.records("people")
    # The subscription keeps its newer state but gains the payer, a new fact.
    assert_has(
        harness.records("subscriptions")[0]["values"],
        {
            "status": "Past Due",
            "last_event_kind": "subscription_went_past_due",
            "person": person["record_id"],
            "braintree_customer_id": "cust_31fz",
        },
    )
    # The charge itself is new: its payment is written in full.
    assert_has(
        harness.records("payments")[0]["values"],
        {
            "braintree_transaction_id": "txn_9c1pq4",
            "status": "submitted_for_settlement",
            "person": person["record_id"],
            "last_event_kind": CHARGE,
        },
    )


def test_an_older_charge_does_not_undo_a_newer_payment_state(harness: Harness) -> None:
    post_fixture(harness, "subscription_went_active")  # makes the charge stale
    post_fixture(harness, "transaction_disbursed")  # settled
    post_fixture(harness, CHARGE)  # older: submitted_for_settlement
    values = harness.records("payments")[0]["values"]
    assert_has(values, {"status": "settled", "last_event_kind": "transaction_disbursed"})
    assert values["person"] is not None  # the payer was new, so it is filled in


def test_an_older_dispute_notification_keeps_the_outcome(harness: Harness) -> None:
    post_fixture(harness, CHARGE)
    post_fixture(harness, "dispute_won")
    post_fixture(harness, "dispute_opened")
    post_fixture(harness, "transaction_disbursed")  # older than both, but a new fact
    assert_has(
        harness.records("payments")[0]["values"],
        {
            "dispute_status": "won",
            "dispute_outcome": "won",
            "disbursement_date": "2024-05-04",
        },
    )


def test_concurrent_notifications_for_one_subscription_keep_the_newest(
    harness: Harness,
) -> None:
    """Both at once. Without the per-subscription lock both pass the guard, and the older one,
    finishing last, wins (checked by disabling the lock)."""
    harness.sandbox.configure_faults(latency_ms=5)
    newer = signed_fixture("subscription_went_active")
    older = signed_fixture("subscription_went_past_due")

    async def send(signed: tuple[str, bytes], delay: float) -> None:
        await asyncio.sleep(delay)
        await asyncio.to_thread(post, harness, signed)

    async def both() -> None:
        await asyncio.gather(send(newer, 0), send(older, 0.002))

    asyncio.run(both())
    assert_has(
        harness.records("subscriptions")[0]["values"],
        {"status": "Active", "last_event_kind": "subscription_went_active"},
    )


def test_an_older_notification_does_not_rename_the_person(harness: Harness) -> None:
    post_fixture(
        harness,
        CHARGE,
        timestamp="2024-06-02T10:15:00Z",
        **{"<last-name>Lovelace</last-name>": "<last-name>King</last-name>"},
    )
    post_fixture(harness, CHARGE)  # older, still with the old name
    (person,) = harness.records("people")
    assert person["values"]["name"] == "Ada King"
