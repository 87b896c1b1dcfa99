"""`summary`: a person's and a company's billing, recomputed from state, table-style."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from app.clients.attio import AttioClient
from app.schema import SchemaBootstrap
from app.schema.definitions import (
    BILLING_STATUSES,
    COMPANIES_OBJECT,
    PEOPLE_OBJECT,
    SUBSCRIPTIONS_OBJECT,
)
from app.services.braintree.revenue import Modification, Plan, Subscription
from app.services.braintree.summary import (
    STATUS_PRIORITY,
    CompanySummary,
    Payment,
    PersonSummary,
    changed_values,
    mrr_mismatches,
    summarize_company,
    summarize_person,
)
from attio_sandbox import SandboxState
from tests.services.braintree.revenue_support import RATES, TODAY, sdk

NOW = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
PLANS = {
    "team-monthly": Plan("team-monthly", 1, Decimal("49.00"), "USD"),
    "pro-annual": Plan("pro-annual", 12, Decimal("1200.00"), "EUR"),
    "solo-monthly": Plan("solo-monthly", 1, Decimal("19.00"), "USD"),
}


def at(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T12:00:00+00:00")


def summarize(subscriptions: list[Subscription], payments: Sequence[Payment] = ()):
    return summarize_person(
        subscriptions, payments, PLANS, today=TODAY, reporting_currency="USD", rates=RATES
    )


# The issue's customer: a monthly plan in dollars (with seats and a discount), an annual plan
# in euros, a trial, a past-due and a cancelled subscription, and a refund.
MONTHLY = Subscription(
    "sub_m", "Active", "team-monthly", Decimal("49.00"), "USD",
    add_ons=(Modification("seat", Decimal("10.00"), 2),),
    discounts=(Modification("loyal", Decimal("5.00")),),
    first_billing_date=date(2026, 3, 1), next_billing_date=date(2026, 12, 15),
)  # fmt: skip
ANNUAL = Subscription(
    "sub_y", "Active", "pro-annual", Decimal("1200.00"), "EUR",
    first_billing_date=date(2026, 6, 1), next_billing_date=date(2027, 6, 1),
)  # fmt: skip
TRIAL = Subscription(
    "sub_t", "Active", "solo-monthly", Decimal("19.00"), "USD", trial_period=True,
    first_billing_date=date(2026, 12, 21), next_billing_date=date(2026, 12, 21),
)  # fmt: skip
PAST_DUE = Subscription(
    "sub_pd", "Past Due", "solo-monthly", Decimal("19.00"), "USD",
    first_billing_date=date(2026, 9, 10), next_billing_date=date(2026, 12, 10),
)  # fmt: skip
CANCELLED = Subscription(
    "sub_c", "Canceled", "team-monthly", Decimal("99.00"), "USD",
    first_billing_date=date(2025, 1, 10),
)  # fmt: skip
PAYMENTS = [
    Payment("t1", "sale", "settled", Decimal("64.00"), "USD", at("2026-11-01"), "sub_m"),
    Payment("t2", "sale", "settled", Decimal("1200.00"), "EUR", at("2026-06-01"), "sub_y"),
    Payment("t3", "sale", "settled", Decimal("99.00"), "USD", at("2025-01-10"), "sub_c"),
    Payment("t4", "credit", "settled", Decimal("99.00"), "USD", at("2025-01-20"), "sub_c"),
    Payment("t5", "sale", "submitted_for_settlement", Decimal("19.00"), "USD", at("2026-09-10"),
            "sub_pd"),
    Payment("t6", "sale", "voided", Decimal("500.00"), "USD", at("2026-10-01")),
    Payment("t7", "sale", "processor_declined", Decimal("19.00"), "USD", at("2026-11-10"),
            "sub_pd"),
    Payment("t8", "credit", "failed", Decimal("64.00"), "USD", at("2026-11-02"), "sub_m"),
]  # fmt: skip


def test_the_issues_customer() -> None:
    summary, revenues = summarize([MONTHLY, ANNUAL, TRIAL, PAST_DUE, CANCELLED], PAYMENTS)
    by_id = {r.subscription_id: r for r in revenues}
    # 49 + 2 x 10 - 5 = 64; 1,200 EUR / 12 = 100 EUR = 110 USD; the past-due 19; others 0.
    assert {k: r.mrr for k, r in by_id.items()} == {
        "sub_m": Decimal("64"), "sub_y": Decimal("110"), "sub_t": 0, "sub_pd": Decimal("19"),
        "sub_c": 0,
    }  # fmt: skip
    assert by_id["sub_y"].mrr_native == Decimal("100") and by_id["sub_y"].currency_code == "EUR"
    assert by_id["sub_t"].in_trial
    assert summary == PersonSummary(
        billing_status="past_due",
        mrr=Decimal("193"),
        customer_since=date(2025, 1, 10),  # the cancelled one was paid first
        # 64 + 1,320 (1,200 EUR) + 99 - 99 refunded + 19 submitted; voided, declined and the
        # failed refund count nothing.
        lifetime_paid=Decimal("1403"),
        last_payment_at=at("2026-11-10"),
        last_payment_status="processor_declined",
        next_billing_date=date(2026, 12, 10),
        active_subscriptions=4,
    )
    assert summary.arr == Decimal("2316")
    assert summary.mrr == sum(r.mrr for r in revenues if r.mrr is not None)


def test_a_company_of_three_people() -> None:
    ana, _ = summarize([MONTHLY, ANNUAL, TRIAL, PAST_DUE, CANCELLED], PAYMENTS)
    ben, _ = summarize(
        [Subscription("sub_b", "Active", "team-monthly", Decimal("49.00"), "USD",
                      first_billing_date=date(2026, 2, 1), next_billing_date=date(2026, 12, 12))],
        [Payment("b1", "sale", "settled", Decimal("49.00"), "USD", at("2026-11-12"), "sub_b")],
    )  # fmt: skip
    cleo, _ = summarize([TRIAL])
    assert (ben.billing_status, cleo.billing_status) == ("active", "trialing")
    company = summarize_company([ana, ben, cleo])
    assert company == CompanySummary(
        billing_status="past_due",
        mrr=Decimal("242"),
        customer_since=date(2025, 1, 10),
        lifetime_paid=Decimal("1452"),
        last_payment_at=at("2026-11-12"),
        last_payment_status="settled",
        next_billing_date=date(2026, 12, 10),
        active_subscriptions=6,
        paying_people=2,
    )
    assert company.mrr == sum(p.mrr for p in (ana, ben, cleo) if p.mrr is not None)


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], None),  # never subscribed
        (["Canceled"], "cancelled"),
        (["Expired", "Canceled"], "cancelled"),
        (["Pending"], "trialing"),  # not billed yet, as a trial
        (["trial", "Canceled"], "trialing"),
        (["Active", "trial"], "active"),
        (["Active", "Past Due", "Canceled"], "past_due"),
        (["Past Due"], "past_due"),
    ],
)
def test_billing_status_priority(statuses: list[str], expected: str | None) -> None:
    subscriptions = [
        TRIAL if status == "trial" else Subscription(f"s{n}", status, "solo-monthly",
                                                     Decimal("19"), "USD")
        for n, status in enumerate(statuses)
    ]  # fmt: skip
    summary, _ = summarize(subscriptions)
    assert summary.billing_status == expected
    assert STATUS_PRIORITY == ("past_due", "active", "trialing", "cancelled")
    assert set(STATUS_PRIORITY) == set(BILLING_STATUSES)


def test_an_unknown_plan_leaves_the_sum_unset_and_says_why() -> None:
    unknown = Subscription("sub_x", "Active", "retired-plan", Decimal("10"), "USD")
    summary, _ = summarize([MONTHLY, unknown])
    assert summary.mrr is None and summary.arr is None
    assert summary.problems == ("subscription sub_x: plan 'retired-plan' unread: no billing "
                                "frequency",)  # fmt: skip
    values = summary.attio_values(updated_at=NOW)
    assert values["mrr"] == [] and values["arr"] == []
    company = summarize_company([summary])
    assert company.mrr is None and company.problems == summary.problems


def test_a_payment_in_a_currency_without_a_rate() -> None:
    summary, _ = summarize(
        [], [Payment("t", "sale", "settled", Decimal("10"), "AED", at("2026-11-01"))]
    )
    assert summary.lifetime_paid is None
    assert summary.problems == ("payment t: ECB publishes no reference rate for AED",)


def test_recomputing_is_idempotent_whatever_the_order() -> None:
    """Redeliveries and replays recompute from state: the same inputs, the same summary."""
    forward, _ = summarize([MONTHLY, ANNUAL, CANCELLED], PAYMENTS)
    backward, _ = summarize([CANCELLED, ANNUAL, MONTHLY], list(reversed(PAYMENTS)))
    assert forward == backward


def test_payments_from_the_sdk() -> None:
    parsed = sdk("transaction", {
        "id": "t9", "type": "credit", "status": "settled", "amount": "12.50",
        "currency_iso_code": "gbp", "created_at": datetime(2026, 11, 3, 8, 0),
        "subscription_id": None,
    })  # fmt: skip
    payment = Payment.from_sdk(parsed)
    assert payment == Payment(
        "t9", "credit", "settled", Decimal("12.50"), "GBP", datetime(2026, 11, 3, 8, tzinfo=UTC)
    )
    assert payment.went_through and payment.signed_amount == Decimal("-12.50")


def test_attio_values() -> None:
    summary, _ = summarize([MONTHLY, ANNUAL, TRIAL, PAST_DUE, CANCELLED], PAYMENTS)
    assert summary.attio_values(updated_at=NOW) == {
        "billing_status": "past_due",
        "mrr": "193.0000",
        "arr": "2316.0000",
        "customer_since": "2025-01-10",
        "lifetime_paid": "1403.0000",
        "last_payment_at": "2026-11-10T12:00:00Z",
        "last_payment_status": "processor_declined",
        "next_billing_date": "2026-12-10",
        "active_subscriptions": 4,
        "billing_updated_at": "2026-12-07T09:30:00Z",
    }
    never, _ = summarize([])
    assert never.attio_values(updated_at=NOW)["billing_status"] == []


def held(values: dict[str, Any]) -> dict[str, Any]:
    """A record holding `values` as Attio's plain current values (`compact`'s shape)."""
    return {"id": {"record_id": "r"}, "values": {k: (v,) for k, v in values.items() if v != []}}


def test_only_what_changed_is_written_and_the_stamp_only_with_it() -> None:
    summary, _ = summarize([MONTHLY, ANNUAL], PAYMENTS)
    values = summary.attio_values(updated_at=NOW)
    assert changed_values(PEOPLE_OBJECT, None, values) == values
    stored = held(summary.attio_values(updated_at=datetime(2026, 12, 1, tzinfo=UTC)))
    assert changed_values(PEOPLE_OBJECT, stored, values) == {}
    moved, _ = summarize([MONTHLY, ANNUAL, PAST_DUE], PAYMENTS)
    changes = changed_values(PEOPLE_OBJECT, stored, moved.attio_values(updated_at=NOW))
    assert changes == {
        "billing_status": "past_due",
        "mrr": "193.0000",
        "arr": "2316.0000",
        "next_billing_date": "2026-12-10",
        "active_subscriptions": 3,
        "billing_updated_at": "2026-12-07T09:30:00Z",
    }


async def test_the_values_round_trip_through_attio(
    sandbox_client: tuple[AttioClient, SandboxState],
) -> None:
    """Attio takes every value as written, and reading it back shows no difference."""
    client, _ = sandbox_client
    assert (await SchemaBootstrap(client, currency_code="USD").run(apply=True)).complete
    ana, revenues = summarize([MONTHLY, ANNUAL, TRIAL, PAST_DUE, CANCELLED], PAYMENTS)
    values = ana.attio_values(updated_at=NOW)
    person = await client.assert_record(
        "people",
        matching_attribute="email_addresses",
        values={"email_addresses": ["ana@acme.io"], **values},
    )
    assert changed_values(PEOPLE_OBJECT, person, values) == {}
    company_values = summarize_company([ana]).attio_values(updated_at=NOW)
    company = await client.assert_record(
        "companies", matching_attribute="domains", values={"domains": ["acme.io"], **company_values}
    )
    assert changed_values(COMPANIES_OBJECT, company, company_values) == {}
    # A company is recomputed from its people's records.
    assert PersonSummary.from_record(person) == ana
    assert (
        summarize_company([PersonSummary.from_record(person)]).attio_values(updated_at=NOW)
        == company_values
    )
    for revenue in revenues:
        sub_values = {"braintree_subscription_id": revenue.subscription_id,
                      **revenue.attio_values()}  # fmt: skip
        record = await client.assert_record(
            "subscriptions", matching_attribute="braintree_subscription_id", values=sub_values
        )
        assert changed_values(SUBSCRIPTIONS_OBJECT, record, sub_values) == {}


@pytest.mark.parametrize(
    ("totals", "parts", "expected"),
    [
        ({"p1": Decimal("193")}, [("p1", Decimal("64")), ("p1", Decimal("129.0000"))], []),
        ({"p1": Decimal("0")}, [], []),
        ({"p1": None}, [("p1", Decimal("1")), ("p1", None)], []),  # both unknown
        ({"p1": Decimal("10")}, [("p1", Decimal("12"))], ["p1: mrr 10 but its parts sum to 12"]),
        ({"p1": Decimal("10")}, [("p1", None)], ["p1: mrr 10 but its parts sum to None"]),
        ({}, [("p2", Decimal("5"))], ["p2: mrr 0 but its parts sum to 5"]),
    ],
)
def test_the_mrr_check(
    totals: dict[str, Decimal | None],
    parts: list[tuple[str, Decimal | None]],
    expected: list[str],
) -> None:
    assert mrr_mismatches(totals, parts) == expected
