"""Braintree notifications end to end: `POST /webhooks/braintree` → the bridge → the Attio sandbox.

What lands in Attio for each kind, the call budget, what is ignored or refused, and that
duplicates and replays change nothing. Braintree's API is faked at the SDK's HTTP call.
"""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from app.metrics import REGISTRY
from testkit.signing import braintree_sample, braintree_signed_xml
from tests.e2e.conftest import ADMIN_TOKEN, Harness
from tests.services.braintree.support import (
    SUBSCRIPTION_KINDS,
    FakeBraintreeApi,
    add_service,
    assert_has,
    attio_calls,
    by_key,
    post,
    post_fixture,
    post_sample,
    signed_fixture,
    snapshot,
)

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
CHARGE = "subscription_charged_successfully"
FAILED = "<status>settlement_failed</status>"
CHARGE_KEY = f"braintree:{CHARGE}:sub_7kq2mv:2024-05-02T10:15:00+00:00"

HANDLED_KINDS = [
    *SUBSCRIPTION_KINDS,
    "transaction_settled",
    "transaction_settlement_declined",
    "transaction_disbursed",
    "transaction_retried",
    "refund_failed",
    "local_payment_completed",
    "local_payment_funded",
    "local_payment_expired",
    "local_payment_reversed",
    "dispute_opened",
    "dispute_under_review",
    "dispute_disputed",
    "dispute_won",
    "dispute_lost",
    "dispute_accepted",
    "dispute_auto_accepted",
    "dispute_expired",
]


# -- subscriptions ---------------------------------------------------------------------------


def test_a_charge_writes_person_subscription_and_payment_linked(harness: Harness) -> None:
    service_id = add_service(harness, "pro_monthly")
    response = post_fixture(harness, CHARGE)
    assert response.json() == {"events": 1, "processed": 1, "ignored": 0, "recorded": 0}

    (person,) = harness.records("people")
    assert_has(
        person["values"],
        {
            "email_addresses": ["ada@example.com"],
            "name": "Ada Lovelace",
            "braintree_customer_id": "cust_31fz",
        },
    )
    (subscription,) = harness.records("subscriptions")
    assert subscription["values"] == {
        "braintree_subscription_id": "sub_7kq2mv",
        "status": "Active",
        "plan_id": "pro_monthly",
        "price": 49.0,
        "balance": 0.0,
        "currency_code": "USD",
        "next_billing_date": "2024-06-02",
        "billing_period_start_date": "2024-05-02",
        "billing_period_end_date": "2024-06-01",
        "failure_count": 0,
        "days_past_due": None,
        "last_event_kind": CHARGE,
        "last_event_at": "2024-05-02T10:15:00.000000000Z",
        "braintree_customer_id": "cust_31fz",
        "person": person["record_id"],
        "service": service_id,
        # Revenue attributes (docs/revenue.md): not written by the notification handlers yet.
        "mrr": None,
        "mrr_native": None,
        "billing_frequency_months": None,
        "in_trial": None,
        "paid_through_date": None,
    }
    (payment,) = harness.records("payments")
    assert_has(
        payment["values"],
        {
            "braintree_transaction_id": "txn_9c1pq4",
            "amount": 49.0,
            "currency_code": "USD",
            "status": "submitted_for_settlement",
            "type": "sale",
            "transaction_created_at": "2024-05-02T10:14:57.000000000Z",
            "braintree_customer_id": "cust_31fz",
            "person": person["record_id"],
            "subscription": subscription["record_id"],
            "dispute_id": None,
            "last_event_kind": CHARGE,
            "last_event_at": "2024-05-02T10:15:00.000000000Z",
        },
    )


def test_an_unsuccessful_charge_records_the_newest_transaction(harness: Harness) -> None:
    post_fixture(harness, CHARGE)
    post_fixture(harness, "subscription_charged_unsuccessfully")
    payments = by_key(harness, "payments", "braintree_transaction_id")
    assert set(payments) == {"txn_9c1pq4", "txn_4mw8zd"}
    assert payments["txn_4mw8zd"]["status"] == "processor_declined"
    subscription = by_key(harness, "subscriptions", "braintree_subscription_id")["sub_7kq2mv"]
    assert subscription["failure_count"] == 1
    assert subscription["last_event_kind"] == "subscription_charged_unsuccessfully"
    assert len(harness.records("people")) == 1


def test_call_budget_of_a_charge_with_customer_details(harness: Harness) -> None:
    add_service(harness, "pro_monthly")
    post_fixture(harness, CHARGE)
    reads, writes = attio_calls(harness, "read"), attio_calls(harness, "write")
    # Reads: the person (is it already as Braintree says?), the subscription and the payment
    # (the order guards), plus the services catalogue, which is read once per process every five
    # minutes. Writes: person (new), subscription, payment.
    assert reads == {"people": 1, "subscriptions": 1, "payments": 1, "services": 1}
    assert writes == {"people": 1, "subscriptions": 1, "payments": 1}

    # A repeat customer's charge (catalogue cached, person unchanged): 3 reads and 2 writes.
    harness.sandbox.requests.clear()
    post_fixture(harness, CHARGE, timestamp="2024-06-02T10:15:00Z")
    assert attio_calls(harness, "read") == {"people": 1, "subscriptions": 1, "payments": 1}
    assert attio_calls(harness, "write") == {"subscriptions": 1, "payments": 1}


def test_a_redelivered_charge_costs_reads_and_no_write(harness: Harness) -> None:
    add_service(harness, "pro_monthly")
    post_fixture(harness, CHARGE)
    harness.sandbox.requests.clear()
    post_fixture(harness, CHARGE)  # the same notification again (a redelivery, a taken-over entry)
    assert attio_calls(harness, "write") == {}
    assert attio_calls(harness, "read") == {"people": 1, "subscriptions": 1, "payments": 1}


def test_a_repeat_customer_with_a_new_name_is_written(harness: Harness) -> None:
    post_fixture(harness, CHARGE)
    harness.sandbox.requests.clear()
    post_fixture(
        harness,
        CHARGE,
        timestamp="2024-06-02T10:15:00Z",
        **{"<first-name>Ada</first-name>": "<first-name>Augusta</first-name>"},
    )
    assert attio_calls(harness, "write").get("people") == 1
    assert harness.records("people")[0]["values"]["name"].startswith("Augusta")


def test_a_plan_change_relinks_or_clears_the_service(harness: Harness) -> None:
    add_service(harness, "pro_monthly", "zi_pro")
    team = add_service(harness, "team_monthly", "zi_team")
    post_fixture(harness, CHARGE)
    post_fixture(
        harness,
        "subscription_went_active",
        **{"<plan-id>pro_monthly</plan-id>": "<plan-id>team_monthly</plan-id>"},
    )
    subscription = harness.records("subscriptions")[0]["values"]
    assert (subscription["plan_id"], subscription["service"]) == ("team_monthly", team)
    post_fixture(
        harness,
        "subscription_went_active",
        timestamp="2024-06-06T00:00:00Z",
        **{"<plan-id>pro_monthly</plan-id>": "<plan-id>legacy_plan</plan-id>"},
    )
    subscription = harness.records("subscriptions")[0]["values"]
    assert (subscription["plan_id"], subscription["service"]) == ("legacy_plan", None)


def test_nil_fields_clear_and_missing_fields_keep(harness: Harness) -> None:
    post_fixture(harness, "subscription_went_past_due")
    subscription = harness.records("subscriptions")[0]["values"]
    assert (subscription["status"], subscription["days_past_due"]) == ("Past Due", 1)
    # went_active sends days-past-due as nil: the subscription is no longer past due.
    post_fixture(harness, "subscription_went_active")
    subscription = harness.records("subscriptions")[0]["values"]
    assert (subscription["status"], subscription["days_past_due"]) == ("Active", None)
    # A sparse notification (no status, no plan) keeps what Attio has.
    post_sample(harness, "subscription_trial_ended", "sub_7kq2mv")
    subscription = harness.records("subscriptions")[0]["values"]
    assert (subscription["status"], subscription["plan_id"]) == ("Active", "pro_monthly")
    assert subscription["last_event_kind"] == "subscription_trial_ended"


# -- payments and disputes -------------------------------------------------------------------


def test_a_settled_transaction_links_person_and_subscription(harness: Harness) -> None:
    post_fixture(harness, "transaction_settled")
    (payment,) = harness.records("payments")
    (person,) = harness.records("people")
    (subscription,) = harness.records("subscriptions")
    assert_has(
        payment["values"],
        {
            "braintree_transaction_id": "txn_ach_77",
            "amount": 120.5,
            "status": "settled",
            "settled_at": "2024-05-06T02:59:58.000000000Z",
            "payment_instrument_type": "us_bank_account",
            "person": person["record_id"],
            "subscription": subscription["record_id"],
            "braintree_customer_id": "cust_gh01",
            "last_event_kind": "transaction_settled",
        },
    )
    assert person["values"]["email_addresses"] == ["grace@example.com"]
    # The subscription is known by its id alone until its own notifications arrive.
    assert_has(subscription["values"], {"braintree_subscription_id": "sub_ach_3k", "status": None})


def test_settlement_failed_is_written(harness: Harness) -> None:
    post_fixture(harness, "transaction_settled", **{"<status>settled</status>": FAILED})
    (payment,) = harness.records("payments")
    assert payment["values"]["status"] == "settlement_failed"


def unknown_statuses(what: str, status: str) -> float:
    labels = {"object": what, "status": status}
    return REGISTRY.get_sample_value("bridge_braintree_unknown_statuses_total", labels) or 0.0


def test_a_status_attio_has_no_option_for_is_logged_and_counted(harness: Harness) -> None:
    before = unknown_statuses("payment", "settlement_exploded")
    with capture_logs() as logs:
        post_fixture(
            harness,
            "transaction_settled",
            **{"<status>settled</status>": "<status>settlement_exploded</status>"},
        )
    assert unknown_statuses("payment", "settlement_exploded") == before + 1
    (line,) = [entry for entry in logs if entry["event"] == "braintree.status.unknown"]
    assert line["log_level"] == "error"
    assert (line["object"], line["status"], line["object_id"]) == (
        "payment",
        "settlement_exploded",
        "txn_ach_77",
    )
    # The rest of the payment is written; the status Attio cannot hold is left out.
    (payment,) = harness.records("payments")
    assert_has(payment["values"], {"amount": 120.5, "status": None})


def test_a_disbursement_updates_the_charged_payment(harness: Harness) -> None:
    post_fixture(harness, CHARGE)
    post_fixture(harness, "transaction_disbursed")
    (payment,) = harness.records("payments")
    assert_has(
        payment["values"],
        {
            "status": "settled",
            "disbursement_date": "2024-05-04",
            "last_event_kind": "transaction_disbursed",
            "person": harness.records("people")[0]["record_id"],  # kept
        },
    )
    assert harness.records("subscriptions")[0]["values"]["status"] == "Active"  # untouched


def test_a_dispute_lands_on_the_charged_payment(harness: Harness) -> None:
    post_fixture(harness, CHARGE)
    post_fixture(harness, "dispute_opened")
    post_fixture(harness, "dispute_won")
    (payment,) = harness.records("payments")
    assert_has(
        payment["values"],
        {
            "braintree_transaction_id": "txn_9c1pq4",
            "status": "submitted_for_settlement",
            "dispute_id": "dp_8fj2k1",
            "dispute_status": "won",
            "dispute_reason": "product_not_received",
            "dispute_amount": 49.0,
            "dispute_reply_by": "2024-06-03",
            "dispute_outcome": "won",
            # Disputes keep their own clock, apart from the transaction's last_event_at.
            "dispute_event_at": "2024-06-18T09:30:00.000000000Z",
        },
    )


def test_a_dispute_creates_a_missing_payment_with_its_payer(
    harness: Harness, braintree_api: FakeBraintreeApi
) -> None:
    braintree_api.add_transaction("txn_9c1pq4", {"id": "cust_31fz", "email": "ada@example.com"})
    post_fixture(harness, "dispute_opened")
    (payment,) = harness.records("payments")
    (person,) = harness.records("people")
    assert_has(
        payment["values"],
        {
            "braintree_transaction_id": "txn_9c1pq4",
            "amount": 49.0,
            "currency_code": "USD",
            "transaction_created_at": "2024-05-02T10:14:57.000000000Z",
            "dispute_status": "open",
            "dispute_outcome": "opened",
            "person": person["record_id"],
        },
    )
    # The disputed transaction names its customer; then the customer for their summary.
    assert braintree_api.calls == ["transaction:txn_9c1pq4", "customer:cust_31fz"]


# -- every kind, and what is not ours --------------------------------------------------------


@pytest.mark.parametrize("kind", HANDLED_KINDS)
def test_every_handled_kind_is_processed_from_the_sdk_sample(harness: Harness, kind: str) -> None:
    """Sparse samples still write what they have, and never make Attio reject a value."""
    assert post_sample(harness, kind, "obj_1").json()["processed"] == 1
    assert harness.records("bridge_events") == []
    if kind in ("local_payment_expired", "local_payment_reversed"):
        assert harness.sandbox.requests.count(kind="write") == 0  # no transaction: nothing to do
    else:
        obj = "subscriptions" if kind.startswith("subscription_") else "payments"
        assert len(harness.records(obj)) == 1


@pytest.mark.parametrize(
    "kind", ["check", "transaction_reviewed", "disbursement", "account_updater_daily_report"]
)
def test_check_and_other_kinds_are_ignored_without_writes(harness: Harness, kind: str) -> None:
    response = post_sample(harness, kind)
    assert response.json() == {"events": 1, "processed": 0, "ignored": 1, "recorded": 0}
    assert harness.sandbox.requests.count(kind="write") == 0


def test_a_signed_but_malformed_payload_is_400_recorded_nowhere(harness: Harness) -> None:
    for xml in (b"<notification><kind>subscription_went_active", b"<other>no root</other>"):
        response = post(harness, braintree_signed_xml(xml))
        assert response.status_code == 400
        assert response.json()["error"] == "malformed_payload"
    assert harness.sandbox.requests.count(kind="write") == 0
    assert harness.records("bridge_events") == []


def test_a_notification_without_an_id_is_dead_in_the_ledger(harness: Harness) -> None:
    signed = signed_fixture("subscription_went_active", **{"<id>sub_7kq2mv</id>": ""})
    assert post(harness, signed).json()["recorded"] == 1
    (entry,) = harness.records("bridge_events")
    assert entry["values"]["status"] == "dead"
    assert "has no id" in entry["values"]["error"]
    assert harness.records("subscriptions") == []


# -- idempotency -----------------------------------------------------------------------------


@pytest.mark.parametrize("with_service", [True, False])
def test_duplicates_change_nothing(harness: Harness, with_service: bool) -> None:
    if with_service:
        add_service(harness, "pro_monthly")
    names = (CHARGE, "transaction_disbursed", "dispute_opened", "transaction_settled")
    for name in names:
        post_fixture(harness, name)
    before = snapshot(harness)
    for name in names:  # each redelivered alone, after the later ones were applied
        post_fixture(harness, name)
        assert snapshot(harness) == before, name
    payment = by_key(harness, "payments", "braintree_transaction_id")["txn_9c1pq4"]
    assert (payment["status"], payment["last_event_kind"]) == ("settled", "transaction_disbursed")
    assert payment["dispute_outcome"] == "opened"
    assert [len(before[obj]) for obj in ("people", "subscriptions", "payments")] == [2, 2, 2]


def test_a_duplicate_sample_changes_nothing(harness: Harness) -> None:
    signed = braintree_sample("subscription_went_active", "sub_1")
    post(harness, signed)
    before = snapshot(harness)
    post(harness, signed)
    assert snapshot(harness) == before


def test_a_ledger_replay_leaves_the_same_records(harness: Harness) -> None:
    # The payment write is applied but answered with a 500: the event is recorded as failed,
    # with the person, the subscription and the payment already written.
    harness.sandbox.configure_faults(
        server_error_rate=1.0,
        after_write=True,
        fault_methods=["PUT"],
        fault_path_regex="/objects/payments/records$",
    )
    assert post_fixture(harness, CHARGE).json()["recorded"] == 1
    harness.sandbox.configure_faults(server_error_rate=0.0, after_write=False)
    written = snapshot(harness)
    assert [len(written[obj]) for obj in ("people", "subscriptions", "payments")] == [1, 1, 1]

    replayed = harness.client.post(f"/admin/events/{CHARGE_KEY}/replay", headers=ADMIN)
    assert replayed.json()["status"] == "replayed"
    assert snapshot(harness) == written
    post_fixture(harness, CHARGE)  # and Braintree's own redelivery on top
    assert snapshot(harness) == written
