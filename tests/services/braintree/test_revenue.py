"""`revenue`: one subscription's MRR and whether it counts, table-style."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from app.services.braintree.revenue import (
    Modification,
    Plan,
    Subscription,
    plans_by_id,
    subscription_revenue,
)
from tests.services.braintree.revenue_support import RATES, TODAY, sdk

PLANS = {
    "monthly": Plan("monthly", 1, Decimal("49.00"), "USD"),
    "quarterly": Plan("quarterly", 3, Decimal("100.00"), "USD"),
    "annual": Plan("annual", 12, Decimal("1200.00"), "EUR"),
}


def sub(**fields: object) -> Subscription:
    base: dict[str, object] = {
        "id": "s1",
        "status": "Active",
        "plan_id": "monthly",
        "price": Decimal("49.00"),
        "currency_code": "USD",
    }
    return Subscription(**(base | fields))  # type: ignore[arg-type]


def addon(amount: str, *, quantity: int = 1, cycles: int | None = None, current: int = 0):
    return Modification("m", Decimal(amount), quantity, cycles, current, cycles is None)


@pytest.mark.parametrize(
    ("subscription", "expected"),
    [
        (sub(), "49.00"),
        (sub(add_ons=(addon("10", quantity=2),)), "69.00"),
        (sub(discounts=(addon("5"),)), "44.00"),
        # A discount for 3 cycles: applies while the next charge is one of them.
        (sub(discounts=(addon("5", cycles=3, current=2),)), "44.00"),
        (sub(discounts=(addon("5", cycles=3, current=3),)), "49.00"),
        (sub(add_ons=(addon("10", quantity=2),), discounts=(addon("5"),)), "64.00"),
        (sub(discounts=(addon("60"),)), "0"),  # never below zero
        # Braintree's own figure for the next period wins: it holds the modifications.
        (sub(next_billing_period_amount=Decimal("30.00"), add_ons=(addon("10"),)), "30.00"),
        (sub(price=None), None),
    ],
)
def test_period_amount(subscription: Subscription, expected: str | None) -> None:
    amount = subscription.period_amount()
    assert amount == (None if expected is None else Decimal(expected))


def revenue(subscription: Subscription, reporting: str = "USD"):
    return subscription_revenue(
        subscription, PLANS, today=TODAY, reporting_currency=reporting, rates=RATES
    )


TRIAL = {"trial_period": True, "first_billing_date": date(2026, 12, 21)}


@pytest.mark.parametrize(
    ("subscription", "mrr", "native", "counts", "in_trial"),
    [
        (sub(), "49", "49", True, False),
        (sub(status="Past Due"), "49", "49", True, False),
        (sub(plan_id="quarterly", price=Decimal("100")), "33.3333", "33.3333", True, False),
        # Annual in euros: 1,200 / 12 = 100 EUR a month, 110 USD at 1.1 USD per euro.
        (
            sub(plan_id="annual", price=Decimal("1200"), currency_code="EUR"),
            "110",
            "100",
            True,
            False,
        ),
        (sub(**TRIAL), "0", "0", False, True),
        # The trial is over once its first billing date has come.
        (sub(trial_period=True, first_billing_date=TODAY), "49", "49", True, False),
        (sub(status="Pending"), "0", "0", False, False),
        (sub(status="Canceled"), "0", "0", False, False),
        (sub(status="Expired"), "0", "0", False, False),
    ],
)
def test_mrr_and_counting(
    subscription: Subscription, mrr: str, native: str, counts: bool, in_trial: bool
) -> None:
    result = revenue(subscription)
    assert (result.mrr, result.mrr_native) == (Decimal(mrr), Decimal(native))
    assert (result.counts, result.in_trial, result.reason) == (counts, in_trial, None)


def test_the_reporting_currency_converts_and_keeps_the_native_amount() -> None:
    result = revenue(sub(), reporting="EUR")
    assert result.mrr == Decimal("44.5455") and result.mrr_native == Decimal("49")
    assert result.currency_code == "USD"


@pytest.mark.parametrize(
    ("subscription", "reason"),
    [
        (sub(plan_id="gone"), "plan 'gone' unread: no billing frequency"),
        (sub(currency_code=None, plan_id="gone"), "plan 'gone' unread"),
        (sub(currency_code="AED"), "ECB publishes no reference rate for AED"),
        (sub(price=None), "no price or next billing period amount"),
    ],
)
def test_what_cannot_be_computed_is_unset_with_a_reason(
    subscription: Subscription, reason: str
) -> None:
    result = revenue(subscription)
    assert result.mrr is None
    assert result.reason is not None and reason in result.reason
    assert result.attio_values()["mrr"] == []  # cleared, never a guess


def test_a_subscription_that_does_not_bill_needs_no_plan() -> None:
    result = revenue(sub(plan_id="gone", status="Canceled"))
    assert result.mrr == 0 and result.reason is None and result.billing_frequency_months is None


def test_attio_values() -> None:
    annual = sub(
        plan_id="annual",
        price=Decimal("1200"),
        currency_code="EUR",
        paid_through_date=date(2027, 1, 4),
    )
    result = revenue(annual)
    assert result.attio_values() == {
        "currency_code": "EUR",
        "mrr": "110.0000",
        "mrr_native": 100.0,
        "billing_frequency_months": 12,
        "in_trial": False,
        "paid_through_date": "2027-01-04",
    }


# -- from the SDK's objects -----------------------------------------------------------------


def test_subscription_from_the_sdk() -> None:
    parsed = sdk(
        "subscription",
        {
            "id": "sub_1",
            "status": "Active",
            "plan_id": "annual",
            "price": "1200.00",
            "merchant_account_id": "acme_eur",
            "next_billing_period_amount": "1150.00",
            "trial_period": True,
            "first_billing_date": date(2026, 12, 21),
            "next_billing_date": date(2026, 12, 21),
            "paid_through_date": None,
            "add_ons": [
                {
                    "id": "seat",
                    "amount": "25.00",
                    "quantity": 2,
                    "number_of_billing_cycles": None,
                    "never_expires": True,
                    "current_billing_cycle": 0,
                }
            ],
            "discounts": [
                {
                    "id": "launch",
                    "amount": "100.00",
                    "quantity": 1,
                    "number_of_billing_cycles": 2,
                    "never_expires": False,
                    "current_billing_cycle": 0,
                }
            ],
            "transactions": [],
        },
    )
    subscription = Subscription.from_sdk(parsed, {"acme_eur": "EUR"})
    assert subscription == Subscription(
        id="sub_1",
        status="Active",
        plan_id="annual",
        price=Decimal("1200.00"),
        currency_code="EUR",
        add_ons=(Modification("seat", Decimal("25.00"), 2, None, 0, True),),
        discounts=(Modification("launch", Decimal("100.00"), 1, 2, 0, False),),
        next_billing_period_amount=Decimal("1150.00"),
        trial_period=True,
        first_billing_date=date(2026, 12, 21),
        next_billing_date=date(2026, 12, 21),
        merchant_account_id="acme_eur",
    )
    assert subscription.in_trial(TODAY)


def test_without_the_merchant_account_the_charges_say_the_currency() -> None:
    parsed = sdk(
        "subscription",
        {
            "id": "sub_2",
            "status": "Active",
            "merchant_account_id": "unknown",
            "transactions": [
                {"id": "t", "type": "sale", "status": "settled", "amount": "9.00",
                 "currency_iso_code": "GBP"},
            ],
        },
    )  # fmt: skip
    subscription = Subscription.from_sdk(parsed, {})
    assert subscription.currency_code == "GBP" and subscription.paid


def test_plans_from_the_sdk() -> None:
    plans = [
        sdk("plan", {"id": "annual", "billing_frequency": 12, "price": "1200.00",
                     "currency_iso_code": "EUR"}),
        sdk("plan", {"id": "broken", "billing_frequency": None, "price": "1.00"}),
    ]  # fmt: skip
    assert plans_by_id(plans) == {"annual": Plan("annual", 12, Decimal("1200.00"), "EUR")}
