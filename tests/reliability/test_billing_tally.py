"""The billing-day tally: records found by unique key and values, owed against lost, ledger
statuses, companies' sums; and the billing day's customers, companies and months."""

from __future__ import annotations

from typing import Any

import pytest

from app.events.sources.zoho_sync import sync_event_key
from testkit.billing_tally import Charge, Tally, company_mismatches, ledger_statuses, tally
from testkit.world import (
    billing_charges,
    billing_company_count,
    billing_deliveries,
    billing_keys,
    billing_run,
)

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
        "companies": [],
    }
    for n in charges:
        for slug, rows in charge_rows(n).items():
            found[slug].extend(rows)
    return found


def ledger(key: str, status: str) -> dict[str, Any]:
    return row(event_key=key, status=status, raw_body="bt_signature=...")


NONE_MISSING = {"people": 0, "subscriptions": 0, "payments": 0, "services": 0, "companies": 0}
ONE_CHARGE_MISSING = {**NONE_MISSING, "people": 1, "subscriptions": 1, "payments": 1}


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
                {**NONE_MISSING, "people": 1, "subscriptions": 1, "payments": 1},
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
    assert result.missing == {**NONE_MISSING, "people": 1, "subscriptions": 1}
    assert (result.lost, result.complete) == (1, False)


def test_ledger_statuses_read_the_select_under_values() -> None:
    rows = [ledger("a", "failed"), ledger("b", "replayed"), row(event_key="c")]
    assert ledger_statuses(rows) == {"a": "failed", "b": "replayed"}


def test_billing_keys_name_the_delivery_subject() -> None:
    delivery = billing_run(3)[2]
    (key,) = delivery.event_keys
    assert billing_keys(2)["subscriptions"] in key


def test_a_record_without_the_charges_values_is_stale_and_the_charge_not_done() -> None:
    # A returning customer's person is there before their charge: its summary says it landed.
    keys = billing_keys(0)
    charge = Charge(("braintree:k:s0:t",), keys, {"people": {"lifetime_paid": 98}})
    found = records(0)
    found["people"] = [row(email_addresses=[keys["people"]], lifetime_paid=49.0)]
    result = tally([charge], {0}, SERVICES, found, [])
    assert (result.missing, result.stale, result.lost) == (NONE_MISSING, {"people": 1}, 1)
    assert not result.complete
    found["people"] = [row(email_addresses=[keys["people"]], lifetime_paid=98.0)]
    result = tally([charge], {0}, SERVICES, found, [])
    assert (result.stale, result.lost, result.complete) == ({}, 0, True)


def test_companies_must_be_there_with_their_sums() -> None:
    wanted = {"acme-0.io": {"mrr": 88, "paying_people": 2}}
    found = records(0, 1)
    result = tally(CHARGES, {0, 1}, SERVICES, found, [], wanted)
    assert (result.missing["companies"], result.complete) == (1, False)
    found["companies"] = [row(domains=["acme-0.io"], mrr=49.0, paying_people=1)]
    result = tally(CHARGES, {0, 1}, SERVICES, found, [], wanted)
    assert (result.missing["companies"], result.stale, result.complete) == (
        0,
        {"companies": 1},
        False,
    )
    found["companies"] = [row(domains=["acme-0.io"], mrr=88.0, paying_people=2)]
    assert tally(CHARGES, {0, 1}, SERVICES, found, [], wanted).complete
    assert result.lost == 0  # a company behind is not a charge lost


def company(record_id: str, domain: str, mrr: float | None, paying: int) -> dict[str, Any]:
    values = {"domains": [domain], "mrr": mrr, "paying_people": paying}
    return {"record_id": record_id, "values": values}


def person(company_id: str | None, mrr: float | None, customer: str | None = "c") -> dict[str, Any]:
    return row(company=company_id, mrr=mrr, braintree_customer_id=customer)


@pytest.mark.parametrize(
    ("companies", "wrong"),
    [
        pytest.param([company("a", "a.io", 88.0, 2)], [], id="sums-hold"),
        pytest.param([company("a", "a.io", 49.0, 2)], ["a.io"], id="mrr-behind"),
        pytest.param([company("a", "a.io", 88.0, 1)], ["a.io"], id="paying-people-behind"),
        pytest.param([company("b", "b.io", 0.0, 0)], [], id="not-the-days-company"),
    ],
)
def test_company_mismatches(companies: list[dict[str, Any]], wrong: list[str]) -> None:
    people = [
        person("a", 49.0),
        person("a", 39.0),
        person("a", 0.0),  # linked, not paying
        person("a", 10.0, customer=None),  # a colleague who never paid is not summed
        person(None, 19.0),  # no company
    ]
    assert company_mismatches(people, companies, {"a.io"}) == wrong


def test_an_unknown_mrr_makes_the_companys_sum_unknown() -> None:
    people = [person("a", 49.0), person("a", None)]
    assert company_mismatches(people, [company("a", "a.io", None, 1)], {"a.io"}) == []
    assert company_mismatches(people, [company("a", "a.io", 49.0, 1)], {"a.io"}) == ["a.io"]


def test_a_companys_people_are_charged_spread_over_the_day() -> None:
    companies = billing_company_count(10, per_company=3)
    emails = [billing_keys(n, companies)["people"] for n in range(10)]
    assert companies == 4
    assert emails[0].endswith("@acme-0.io") and emails[4].endswith("@acme-0.io")
    assert emails[1].endswith("@globex-1.io")
    assert billing_company_count(10, per_company=0) == 0
    assert billing_keys(3)["people"] == "billed00003@example.com"
    assert [c.company for c in billing_charges(2, per_company=0)] == [None, None]


def test_returning_customers_were_charged_a_month_earlier_by_the_same_subscription() -> None:
    (new,) = billing_charges(1, per_company=3)
    (back,) = billing_charges(1, per_company=3, returning=True)
    assert (new.sales, new.earlier_transaction_id) == (1, None)
    assert back.sales == 2
    assert back.earlier_transaction_id not in (None, back.transaction_id)
    assert (back.charged - back.earlier_charged).days == 30
    (earlier,) = billing_deliveries([back], earlier=True)
    (this_month,) = billing_deliveries([back])
    assert back.subscription_id in earlier.event_keys[0]
    assert earlier.event_keys != this_month.event_keys
    with pytest.raises(ValueError, match="no earlier charge"):
        billing_deliveries([new], earlier=True)
