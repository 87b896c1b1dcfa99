"""The pure transforms, table-driven over every kind the service handles.

Inputs are notifications parsed by the SDK: its `sample_notification` payloads (sparse), and
fixture XML shaped like real deliveries, signed with the SDK's signing code.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from app.services.braintree.transforms import (
    PERSON_ATTRIBUTES,
    Payer,
    day,
    dispute_outcome,
    dispute_values,
    disputed_payment_values,
    event_stamp,
    money,
    newest_transaction,
    payer_from_customer,
    payment_values,
    person_values,
    subscription_payer,
    subscription_values,
    timestamp,
    transaction_of,
    unknown_status,
)
from tests.services.braintree.support import SUBSCRIPTION_KINDS, fixture, sample

WHEN = datetime(2024, 5, 6, 3, 0, tzinfo=UTC)

# -- subscriptions ---------------------------------------------------------------------------

FULL_SUBSCRIPTION = {
    "braintree_subscription_id": "sub_7kq2mv",
    "status": "Active",
    "plan_id": "pro_monthly",
    "price": "49.00",
    "balance": "0.00",
    "currency_code": "USD",
    "next_billing_date": "2024-06-02",
    "billing_period_start_date": "2024-05-02",
    "billing_period_end_date": "2024-06-01",
    "failure_count": 0,
    "days_past_due": [],  # nil in the XML: not past due
}

SUBSCRIPTION_CASES: list[tuple[str, Any, dict[str, Any]]] = [
    # The SDK's samples carry an id and (for charges) a bare transaction, nothing else.
    *[
        (kind, lambda k=kind: sample(k, "sub_1"), {"braintree_subscription_id": "sub_1"})
        for kind in SUBSCRIPTION_KINDS
    ],
    (
        "fixture: subscription_charged_successfully",
        lambda: fixture("subscription_charged_successfully"),
        FULL_SUBSCRIPTION,
    ),
    (
        "fixture: subscription_charged_unsuccessfully",
        lambda: fixture("subscription_charged_unsuccessfully"),
        {**FULL_SUBSCRIPTION, "balance": "49.00", "failure_count": 1},
    ),
    (
        "fixture: subscription_went_past_due",
        lambda: fixture("subscription_went_past_due"),
        {
            **FULL_SUBSCRIPTION,
            "status": "Past Due",
            "balance": "49.00",
            "failure_count": 1,
            "days_past_due": 1,
            "currency_code": None,  # no transactions, so no currency
        },
    ),
    (
        "fixture: subscription_went_active",
        lambda: fixture("subscription_went_active"),
        {
            **FULL_SUBSCRIPTION,
            "next_billing_date": "2024-07-02",
            "billing_period_start_date": "2024-06-02",
            "billing_period_end_date": "2024-07-01",
            "currency_code": None,
        },
    ),
    (
        "fixture: subscription_canceled",
        lambda: fixture("subscription_canceled"),
        {
            "braintree_subscription_id": "sub_trial_5x",
            "status": "Canceled",
            "plan_id": "starter_yearly",
            "price": "290.00",
            "balance": "0.00",
            "next_billing_date": [],
            "billing_period_start_date": [],
            "billing_period_end_date": [],
            "failure_count": 0,
            "days_past_due": [],
        },
    ),
]


def _without_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


@pytest.mark.parametrize(
    ("case", "notification", "expected"), SUBSCRIPTION_CASES, ids=[c[0] for c in SUBSCRIPTION_CASES]
)
def test_subscription_values(case: str, notification: Any, expected: dict[str, Any]) -> None:
    subscription = notification().subscription
    assert subscription_values(subscription) == _without_none(expected)


CHARGE_CASES: list[tuple[str, Any, dict[str, Any] | None]] = [
    (
        "sample: subscription_charged_successfully",
        lambda: sample("subscription_charged_successfully", "sub_1"),
        {
            "braintree_transaction_id": "sub_1",
            "amount": "49.99",
            "status": "submitted_for_settlement",
        },
    ),
    (
        "sample: subscription_charged_unsuccessfully",
        lambda: sample("subscription_charged_unsuccessfully", "sub_1"),
        {"braintree_transaction_id": "sub_1", "amount": "49.99", "status": "failed"},
    ),
    ("sample: subscription_went_active", lambda: sample("subscription_went_active"), None),
    (
        "fixture: subscription_charged_successfully",
        lambda: fixture("subscription_charged_successfully"),
        {
            "braintree_transaction_id": "txn_9c1pq4",
            "amount": "49.00",
            "currency_code": "USD",
            "status": "submitted_for_settlement",
            "type": "sale",
            "transaction_created_at": "2024-05-02T10:14:57+00:00",
        },
    ),
    (
        # The newest transaction is listed second: creation time decides, not position.
        "fixture: subscription_charged_unsuccessfully",
        lambda: fixture("subscription_charged_unsuccessfully"),
        {
            "braintree_transaction_id": "txn_4mw8zd",
            "amount": "49.00",
            "currency_code": "USD",
            "status": "processor_declined",
            "type": "sale",
            "transaction_created_at": "2024-06-02T10:14:57+00:00",
            "payment_instrument_type": "credit_card",
        },
    ),
]


@pytest.mark.parametrize(
    ("case", "notification", "expected"), CHARGE_CASES, ids=[c[0] for c in CHARGE_CASES]
)
def test_newest_transaction_of_a_subscription(
    case: str, notification: Any, expected: dict[str, Any] | None
) -> None:
    n = notification()
    transaction = newest_transaction(n.subscription)
    if expected is None:
        assert transaction is None
    else:
        assert payment_values(transaction, n.kind, WHEN) == expected


def test_subscription_payer_comes_from_its_transactions() -> None:
    payer = subscription_payer(fixture("subscription_charged_successfully").subscription)
    assert payer == Payer("cust_31fz", "ada@example.com", "Ada", "Lovelace")
    assert subscription_payer(fixture("subscription_went_past_due").subscription) is None
    assert subscription_payer(sample("subscription_charged_successfully").subscription) is None


def test_subscription_payer_prefers_a_transaction_with_an_email() -> None:
    without_email = SimpleNamespace(customer_details=SimpleNamespace(id="c1", email=None))
    with_email = SimpleNamespace(customer_details=SimpleNamespace(id="c1", email="a@b.co"))
    subscription = SimpleNamespace(transactions=[without_email, with_email])
    assert subscription_payer(subscription) == Payer("c1", "a@b.co")


# -- payments --------------------------------------------------------------------------------

SAMPLE_ACH = {
    "braintree_transaction_id": "obj_1",
    "amount": "100.00",
    "currency_code": "USD",
    "type": "sale",
    "payment_instrument_type": "us_bank_account",
}

PAYMENT_CASES: list[tuple[str, Any, dict[str, Any] | None]] = [
    (
        "transaction_settled",
        lambda: sample("transaction_settled"),
        # No status history in the sample: the settlement notification's time stands in.
        {**SAMPLE_ACH, "status": "settled", "settled_at": WHEN.isoformat()},
    ),
    (
        "transaction_settlement_declined",
        lambda: sample("transaction_settlement_declined"),
        {**SAMPLE_ACH, "status": "settlement_declined"},
    ),
    (
        "transaction_disbursed",
        lambda: sample("transaction_disbursed"),
        # The sample's disbursement date is a datetime; the date is what Attio stores.
        {"braintree_transaction_id": "obj_1", "amount": "100", "disbursement_date": "2013-07-09"},
    ),
    (
        "transaction_retried",
        lambda: sample("transaction_retried"),
        {
            "braintree_transaction_id": "obj_1",
            "amount": "100",
            "currency_code": "USD",
            "status": "submitted_for_settlement",
            "type": "sale",
        },
    ),
    (
        "refund_failed",
        lambda: sample("refund_failed"),
        {
            "braintree_transaction_id": "obj_1",
            "amount": "100",
            "status": "processor_declined",
            "type": "credit",
        },
    ),
    (
        "local_payment_completed",
        lambda: sample("local_payment_completed"),
        {"braintree_transaction_id": "1", "amount": "10.00", "status": "authorizing"},
    ),
    (
        "local_payment_funded",
        lambda: sample("local_payment_funded"),
        {"braintree_transaction_id": "1", "amount": "10.00", "status": "settled"},
    ),
    ("local_payment_expired", lambda: sample("local_payment_expired"), None),
    ("local_payment_reversed", lambda: sample("local_payment_reversed"), None),
    (
        "fixture: transaction_settled",
        lambda: fixture("transaction_settled"),
        {
            "braintree_transaction_id": "txn_ach_77",
            "amount": "120.50",
            "currency_code": "USD",
            "status": "settled",
            "type": "sale",
            "transaction_created_at": "2024-05-01T12:00:00+00:00",
            "settled_at": "2024-05-06T02:59:58+00:00",  # from the status history
            "payment_instrument_type": "us_bank_account",
        },
    ),
    (
        "fixture: transaction_disbursed",
        lambda: fixture("transaction_disbursed"),
        {
            "braintree_transaction_id": "txn_9c1pq4",
            "amount": "49.00",
            "currency_code": "USD",
            "status": "settled",
            "type": "sale",
            "transaction_created_at": "2024-05-02T10:14:57+00:00",
            "disbursement_date": "2024-05-04",
            "payment_instrument_type": "credit_card",
        },
    ),
]


@pytest.mark.parametrize(
    ("case", "notification", "expected"), PAYMENT_CASES, ids=[c[0] for c in PAYMENT_CASES]
)
def test_payment_values(case: str, notification: Any, expected: dict[str, Any] | None) -> None:
    n = notification()
    transaction = transaction_of(n)
    if expected is None:
        assert transaction is None
    else:
        assert payment_values(transaction, n.kind, WHEN) == expected


def test_payment_amounts_are_exact_strings() -> None:
    values = payment_values(fixture("transaction_settled").transaction, "transaction_settled", WHEN)
    assert values["amount"] == "120.50"
    assert isinstance(values["amount"], str)
    assert Decimal(values["amount"]) == Decimal("120.50")


# -- disputes --------------------------------------------------------------------------------

DISPUTE_KINDS = [
    ("dispute_opened", "open", "opened"),
    ("dispute_under_review", "under_review", "under_review"),
    ("dispute_disputed", "disputed", "disputed"),
    ("dispute_won", "won", "won"),
    ("dispute_lost", "lost", "lost"),
    ("dispute_accepted", "accepted", "accepted"),
    ("dispute_auto_accepted", "auto_accepted", "auto_accepted"),
    ("dispute_expired", "expired", "expired"),
]


@pytest.mark.parametrize(("kind", "status", "outcome"), DISPUTE_KINDS)
def test_dispute_values(kind: str, status: str, outcome: str) -> None:
    dispute = sample(kind, "dp_1").dispute
    assert dispute_values(dispute, kind) == {
        "dispute_id": "dp_1",
        "dispute_status": status,
        "dispute_reason": "fraud",
        "dispute_amount": "100.00",
        "dispute_reply_by": "2016-02-22",
        "dispute_outcome": outcome,
    }
    assert disputed_payment_values(dispute) == {
        "braintree_transaction_id": "dp_1",
        "amount": "100.00",
        "currency_code": "USD",
        "transaction_created_at": "2017-06-21T20:44:41+00:00",  # a string in TransactionDetails
    }


def test_dispute_fixture_and_legacy_sample() -> None:
    won = fixture("dispute_won").dispute
    assert dispute_values(won, "dispute_won") == {
        "dispute_id": "dp_8fj2k1",
        "dispute_status": "won",
        "dispute_reason": "product_not_received",
        "dispute_amount": "49.00",
        "dispute_reply_by": "2024-06-03",
        "dispute_outcome": "won",
    }
    assert disputed_payment_values(won)["braintree_transaction_id"] == "txn_9c1pq4"
    # The SDK's legacy shape has only `amount`, which is the amount disputed.
    legacy = sample("dispute_opened", "legacy_dispute_id").dispute
    assert dispute_values(legacy, "dispute_opened")["dispute_amount"] == "250.00"
    assert disputed_payment_values(legacy) == {
        "braintree_transaction_id": "legacy_dispute_id",
        "amount": "250.00",
        "currency_code": "USD",
    }


def test_a_future_dispute_kind_writes_no_unknown_option() -> None:
    assert dispute_outcome("dispute_reopened") is None
    dispute = SimpleNamespace(id="d", status="reopened")
    assert dispute_values(dispute, "dispute_reopened") == {"dispute_id": "d"}


# -- people and small converters -------------------------------------------------------------


@pytest.mark.parametrize(
    ("customer", "expected"),
    [
        (SimpleNamespace(id="c1", email="a@b.co", first_name="A", last_name="B"),
         Payer("c1", "a@b.co", "A", "B")),
        (SimpleNamespace(id="c1", email="not an email"), Payer("c1")),
        (SimpleNamespace(id="c1"), Payer("c1")),
        (SimpleNamespace(email="a@b.co"), Payer(None, "a@b.co")),
        (SimpleNamespace(id=" ", email=""), None),
        (None, None),
    ],
)  # fmt: skip
def test_payer_from_customer(customer: Any, expected: Payer | None) -> None:
    assert payer_from_customer(customer) == expected


def test_person_values() -> None:
    assert person_values(Payer("c1", "a@b.co", "Ada", "Lovelace")) == {
        "email_addresses": ["a@b.co"],
        "braintree_customer_id": "c1",
        "name": [{"first_name": "Ada", "last_name": "Lovelace", "full_name": "Ada Lovelace"}],
    }
    assert person_values(Payer(None, "a@b.co")) == {"email_addresses": ["a@b.co"]}
    assert person_values(Payer("c1", "a@b.co", last_name="Hopper"))["name"] == [
        {"first_name": "", "last_name": "Hopper", "full_name": "Hopper"}
    ]


def test_person_attributes_name_everything_person_values_writes() -> None:
    # The sync holds only these attributes of each person it compares against.
    assert set(person_values(Payer("c1", "a@b.co", "Ada", "Lovelace"))) == PERSON_ATTRIBUTES


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("49.99"), "49.99"),
        (Decimal("0.00"), "0.00"),
        ("12.5", "12.5"),
        (Decimal("1E+2"), "100"),
        (7, "7"),
        ("abc", None),
        (Decimal("NaN"), None),
        (True, None),
        (None, None),
    ],
)
def test_money(value: Any, expected: str | None) -> None:
    assert money(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2024, 5, 2, 10, 15), "2024-05-02T10:15:00+00:00"),  # the SDK's naive UTC
        (datetime(2024, 5, 2, 12, 15, tzinfo=UTC).astimezone(), "2024-05-02T12:15:00+00:00"),
        ("2017-06-21T20:44:41Z", "2017-06-21T20:44:41+00:00"),
        ("yesterday", None),
        (None, None),
    ],
)
def test_timestamp(value: Any, expected: str | None) -> None:
    assert timestamp(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (date(2024, 6, 2), "2024-06-02"),
        (datetime(2013, 7, 9, 18, 23, 29), "2013-07-09"),
        ("2024-06-02", "2024-06-02"),
        ("June", None),
        (None, None),
    ],
)
def test_day(value: Any, expected: str | None) -> None:
    assert day(value) == expected


def test_event_stamp() -> None:
    assert event_stamp("subscription_went_active", WHEN) == {
        "last_event_kind": "subscription_went_active",
        "last_event_at": "2024-05-06T03:00:00+00:00",
    }
    assert event_stamp("subscription_went_active", None) == {
        "last_event_kind": "subscription_went_active"
    }


def test_unknown_select_values_are_left_out() -> None:
    subscription = SimpleNamespace(id="s", status="Paused", failure_count="x")
    assert subscription_values(subscription) == {"braintree_subscription_id": "s"}
    transaction = SimpleNamespace(id="t", status="teleported", type="gift", amount=Decimal("1"))
    assert payment_values(transaction, "transaction_settled", WHEN) == {
        "braintree_transaction_id": "t",
        "amount": "1",
    }


# -- statuses Attio has no option for -------------------------------------------------------


@pytest.mark.parametrize(
    ("what", "status", "unknown"),
    [
        ("payment", "settlement_failed", None),
        ("payment", "settled", None),
        ("payment", "settlement_exploded", "settlement_exploded"),
        ("subscription", "Past Due", None),
        ("subscription", "past_due", "past_due"),
        ("dispute", "under_review", None),
        ("dispute", "arbitration", "arbitration"),
        ("payment", None, None),  # nil: cleared, not unknown
        ("payment", "", None),
    ],
)
def test_unknown_status(what: str, status: str | None, unknown: str | None) -> None:
    assert unknown_status(SimpleNamespace(status=status), what) == unknown


def test_an_object_without_a_status_has_no_unknown_one() -> None:
    assert unknown_status(SimpleNamespace(id="t1"), "payment") is None
    assert unknown_status(None, "payment") is None
