"""The out-of-order guard and the per-record locks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.services.braintree.ordering import is_stale, new_facts
from app.services.braintree.transforms import PAYMENT_FACTS

T1 = datetime(2024, 5, 2, 10, 15, tzinfo=UTC)
T2 = datetime(2024, 6, 2, 10, 15, tzinfo=UTC)


def record(**values: Any) -> dict[str, Any]:
    """A record as Attio returns it: each attribute an array of value objects."""

    def shape(slug: str, value: Any) -> list[dict[str, Any]]:
        if value is None:
            return []
        if slug == "last_event_at":
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
