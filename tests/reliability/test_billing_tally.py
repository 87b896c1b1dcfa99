"""The billing-day tally: records found by unique key, owed against lost, ledger statuses."""

from __future__ import annotations

from typing import Any

import pytest

from app.events.sources.zoho_sync import sync_event_key
from testkit.billing_tally import Charge, Tally, ledger_statuses, tally
from testkit.world import billing_keys, billing_run

CHARGES = [Charge((f"braintree:k:s{n}:t",), billing_keys(n)) for n in range(2)]
SERVICES = ["2000000000000"]


def row(**values: Any) -> dict[str, Any]:
    """A record as `/_sandbox/objects/<slug>/records` lists it."""
    return {"record_id": "r", "created_at": "2026-01-01T00:00:00Z", "values": values}


def charge_rows(n: int) -> dict[str, list[dict[str, Any]]]:
    keys = billing_keys(n)
    return {
        "people": [row(email_addresses=[keys["people"]])],
        "subscriptions": [row(braintree_subscription_id=keys["subscriptions"])],
        "payments": [row(braintree_transaction_id=keys["payments"])],
    }


def records(*charges: int, services: bool = True) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {
        "people": [],
        "subscriptions": [],
        "payments": [],
        "services": [row(zoho_item_id=SERVICES[0])] if services else [],
    }
    for n in charges:
        for slug, rows in charge_rows(n).items():
            found[slug].extend(rows)
    return found


def ledger(key: str, status: str) -> dict[str, Any]:
    return row(event_key=key, status=status, raw_body="bt_signature=...")


NONE_MISSING = {"people": 0, "subscriptions": 0, "payments": 0, "services": 0}
ONE_CHARGE_MISSING = {"people": 1, "subscriptions": 1, "payments": 1, "services": 0}


@pytest.mark.parametrize(
    ("acknowledged", "found", "ledger_rows", "expected"),
    [
        pytest.param(
            {0, 1},
            records(0, 1),
            [],
            Tally(0, NONE_MISSING, dict.fromkeys(NONE_MISSING, 0), {}, 0, 0),
            id="everything-in",
        ),
        pytest.param(
            {0, 1},
            records(0),
            [],
            Tally(0, ONE_CHARGE_MISSING, dict.fromkeys(NONE_MISSING, 0), {}, 0, 1),
            id="acknowledged-missing-unledgered-is-lost",
        ),
        pytest.param(
            {0, 1},
            records(0),
            [ledger("braintree:k:s1:t", "failed")],
            Tally(0, ONE_CHARGE_MISSING, dict.fromkeys(NONE_MISSING, 0), {"failed": 1}, 1, 0),
            id="failed-in-ledger-is-owed",
        ),
        pytest.param(
            {0, 1},
            records(0),
            [ledger("braintree:k:s1:t", "replayed")],
            Tally(0, ONE_CHARGE_MISSING, dict.fromkeys(NONE_MISSING, 0), {"replayed": 1}, 0, 1),
            id="replayed-but-missing-is-lost",
        ),
        pytest.param(
            {0},
            records(0),
            [],
            Tally(1, ONE_CHARGE_MISSING, dict.fromkeys(NONE_MISSING, 0), {}, 1, 0),
            id="unacknowledged-is-owed",
        ),
        pytest.param(
            {0, 1},
            records(0, 1, 1),
            [],
            Tally(
                0,
                NONE_MISSING,
                {"people": 1, "subscriptions": 1, "payments": 1, "services": 0},
                {},
                0,
                0,
            ),
            id="duplicates-by-key",
        ),
        pytest.param(
            {0, 1},
            records(0, 1, services=False),
            [ledger(sync_event_key(SERVICES[0], "v1"), "dead")],
            Tally(
                0,
                {**NONE_MISSING, "services": 1},
                dict.fromkeys(NONE_MISSING, 0),
                {"dead": 1},
                1,
                0,
            ),
            id="service-in-ledger-is-owed",
        ),
    ],
)
def test_tally(
    acknowledged: set[int],
    found: dict[str, list[dict[str, Any]]],
    ledger_rows: list[dict[str, Any]],
    expected: Tally,
) -> None:
    assert tally(CHARGES, acknowledged, SERVICES, found, ledger_rows) == expected


def test_a_charge_half_written_is_missing_only_what_is_absent() -> None:
    found = records(0)
    found["payments"].extend(charge_rows(1)["payments"])
    result = tally(CHARGES, {0, 1}, SERVICES, found, [])
    assert result.missing == {"people": 1, "subscriptions": 1, "payments": 0, "services": 0}
    assert (result.lost, result.complete) == (1, False)


def test_ledger_statuses_read_the_select_under_values() -> None:
    rows = [ledger("a", "failed"), ledger("b", "replayed"), row(event_key="c")]
    assert ledger_statuses(rows) == {"a": "failed", "b": "replayed"}


def test_billing_keys_name_the_delivery_subject() -> None:
    delivery = billing_run(3)[2]
    (key,) = delivery.event_keys
    assert billing_keys(2)["subscriptions"] in key
