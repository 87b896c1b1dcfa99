"""The out-of-order guard and the per-record locks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from app.services.braintree.ordering import is_stale, latest_payment, new_facts, open_dispute
from app.services.braintree.transforms import PAYMENT_FACTS

T1 = datetime(2024, 5, 2, 10, 15, tzinfo=UTC)
T2 = datetime(2024, 6, 2, 10, 15, tzinfo=UTC)


def record(**values: Any) -> dict[str, Any]:
    """A record as Attio returns it: each attribute an array of value objects."""

    def shape(slug: str, value: Any) -> list[dict[str, Any]]:
        if value is None:
            return []
        if slug.endswith("_at"):
            return [{"attribute_type": "timestamp", "active_until": None, "value": value}]
        return [{"attribute_type": "text", "active_until": None, "value": value}]

    return {"id": {"record_id": "r1"}, "values": {k: shape(k, v) for k, v in values.items()}}


def test_is_stale() -> None:
    newer = record(last_event_at="2024-06-02T10:15:00.000000000Z")
    assert is_stale(newer, T1)
    assert not is_stale(newer, T2)  # the same notification again is not stale
    assert not is_stale(record(last_event_at="2024-05-02T10:15:00.000000000Z"), T2)
    assert not is_stale(None, T1)
    assert not is_stale(record(last_event_at=None), T1)
    assert is_stale(newer, None)  # without a timestamp it cannot prove it is newer


def test_new_facts_fill_gaps_only() -> None:
    existing = record(amount="49.00", status="settled", braintree_customer_id=None)
    values = {
        "braintree_transaction_id": "t",
        "amount": "48.00",
        "status": "submitted_for_settlement",
        "braintree_customer_id": "c1",
        "disbursement_date": [],
    }
    assert new_facts(values, existing, PAYMENT_FACTS) == {
        "braintree_transaction_id": "t",  # absent from this record shape, so a gap
        "braintree_customer_id": "c1",
    }
    assert new_facts(values, None, PAYMENT_FACTS) == {
        "braintree_transaction_id": "t",
        "amount": "48.00",
        "braintree_customer_id": "c1",
    }


PAYMENT = {
    "braintree_transaction_id": "txn_2",
    "amount": "49.00",
    "currency_code": "USD",
    "status": "settled",
    "transaction_created_at": "2024-05-02T10:14:57+00:00",
    "type": "sale",  # not kept on the subscription
}
LATEST = {
    "last_payment_id": "txn_2",
    "last_payment_amount": "49.00",
    "last_payment_currency": "USD",
    "last_payment_status": "settled",
    "last_payment_at": "2024-05-02T10:14:57+00:00",
}
T2_TEXT = "2024-06-02T10:15:00.000000000Z"


@pytest.mark.parametrize(
    ("existing", "occurred_at", "expected"),
    [
        (None, T1, {**LATEST, "last_payment_event_at": T1.isoformat()}),
        # the same transaction, newer state already there: only gaps are filled
        (
            record(last_payment_id="txn_2", last_payment_event_at=T2_TEXT),
            T1,
            {
                k: v
                for k, v in LATEST.items()
                if k not in ("last_payment_id", "last_payment_status")
            },
        ),
        # an older transaction than the latest one: nothing
        (
            record(last_payment_id="txn_3", last_payment_at="2024-06-01T00:00:00.000000000Z"),
            T2,
            {},
        ),
        # a newer transaction replaces the latest, whatever its clock said
        (
            record(
                last_payment_id="txn_1",
                last_payment_at="2024-04-02T00:00:00.000000000Z",
                last_payment_event_at=T2_TEXT,
            ),
            T1,
            {**LATEST, "last_payment_event_at": T1.isoformat()},
        ),
    ],
)
def test_latest_payment(existing, occurred_at, expected) -> None:
    assert latest_payment(existing, PAYMENT, occurred_at) == expected


def test_open_dispute_keeps_its_own_clock() -> None:
    dispute = {"dispute_id": "dp_1", "dispute_status": "open", "dispute_reason": "fraud"}
    newer = record(dispute_event_at=T2_TEXT, last_event_at=None)
    assert open_dispute(newer, dispute, T1) == {"dispute_id": "dp_1"}
    # a newer subscription notification does not make a dispute stale
    assert open_dispute(record(last_event_at=T2_TEXT), dispute, T1) == {
        "dispute_id": "dp_1",
        "dispute_status": "open",
        "dispute_event_at": T1.isoformat(),
    }
