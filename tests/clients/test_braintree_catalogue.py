"""The Braintree stand-in's catalogue through the real SDK: plans with their billing frequency,
add-ons, discounts, trials and merchant accounts in two currencies, read as the SDK reads
Braintree's own XML; and the revenue rules fed from what the SDK returns."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import braintree
import pytest
from braintree.exceptions.not_found_error import NotFoundError

from app.services.braintree.revenue import Subscription, plans_by_id
from app.services.braintree.summary import Payment, summarize_company, summarize_person
from app.services.fx import ExchangeRates
from testkit.braintree_api import BraintreeData, add_months, modification, sdk_gateway
from testkit.braintree_api import braintree_api as stand_in

CREATED = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def gateway() -> Iterator[tuple[BraintreeData, braintree.BraintreeGateway]]:
    data = BraintreeData()
    data.seed_catalogue()
    with stand_in(data) as port:
        yield data, sdk_gateway(port)


def test_plans_with_billing_frequency_trial_and_modifications(
    gateway: tuple[BraintreeData, Any],
) -> None:
    data, sdk = gateway
    plans = {plan.id: plan for plan in sdk.plan.all()}
    assert set(plans) == {"solo-monthly", "team-monthly", "pro-monthly", "pro-annual"}
    annual = plans["pro-annual"]
    # The SDK leaves a plan's price as text (a subscription's it makes a Decimal).
    assert (annual.billing_frequency, annual.price, annual.currency_iso_code) == (
        12,
        "1200.00",
        "EUR",
    )
    assert (annual.trial_period, annual.trial_duration, annual.trial_duration_unit) == (
        True,
        14,
        "day",
    )
    (seat,) = plans["team-monthly"].add_ons
    assert isinstance(seat, braintree.AddOn) and seat.amount == Decimal("10.00")
    assert sdk.plan.find("solo-monthly").billing_frequency == 1
    with pytest.raises(NotFoundError):
        sdk.plan.find("nope")
    assert data.calls["GET plans"] == 1 and data.calls["GET plan"] == 2


def test_the_merchants_add_ons_and_discounts(gateway: tuple[BraintreeData, Any]) -> None:
    _, sdk = gateway
    (seat,) = sdk.add_on.all()
    (launch,) = sdk.discount.all()
    assert (seat.id, seat.amount, seat.never_expires) == ("seat", Decimal("10.00"), True)
    assert (launch.id, launch.amount, launch.number_of_billing_cycles) == (
        "launch",
        Decimal("5.00"),
        3,
    )
    assert launch.never_expires is False


def test_merchant_accounts_in_two_currencies(gateway: tuple[BraintreeData, Any]) -> None:
    data, sdk = gateway
    accounts = {a.id: a for a in sdk.merchant_account.all().merchant_accounts.items}
    assert {k: (a.currency_iso_code, a.default) for k, a in accounts.items()} == {
        "main": ("USD", True),
        "acme_eur": ("EUR", False),
    }
    assert sdk.merchant_account.find("acme_eur").currency_iso_code == "EUR"
    for n in range(60):  # more than a page
        data.add_merchant_account(f"extra_{n}", "GBP")
    assert len(list(sdk.merchant_account.all().merchant_accounts.items)) == 62


def test_a_subscription_with_add_ons_discounts_a_trial_and_its_accounts_currency(
    gateway: tuple[BraintreeData, Any],
) -> None:
    data, sdk = gateway
    data.add_customer("c1", email="ana@acme.io", token="tok1")
    data.add_subscription(
        "team",
        "tok1",
        plan_id="team-monthly",
        price="49.00",
        created_at=CREATED,
        discounts=[modification("launch", "5.00", kind="discount", number_of_billing_cycles=3)],
    )
    data.add_subscription(
        "annual",
        "tok1",
        plan_id="pro-annual",
        price="1200.00",
        created_at=CREATED,
        merchant_account_id="acme_eur",
        trial_days=60,
    )
    data.add_transaction("t1", "c1", "54.00", created_at=CREATED, subscription_id="team")
    team = sdk.subscription.find("team")
    assert [(a.id, a.amount, a.quantity) for a in team.add_ons] == [("seat", Decimal("10.00"), 1)]
    assert [(d.id, d.number_of_billing_cycles) for d in team.discounts] == [("launch", 3)]
    assert team.next_billing_period_amount == Decimal("54.00")  # 49 + 10 - 5
    assert team.next_billing_date == add_months(CREATED.date(), 1)
    assert team.transactions[0].currency_iso_code == "USD"
    annual = sdk.subscription.find("annual")
    assert (annual.status, annual.trial_period, annual.merchant_account_id) == (
        "Active",
        True,
        "acme_eur",
    )
    assert annual.first_billing_date == date(2026, 12, 31)
    assert annual.status_history[0].currency_iso_code == "EUR"


def test_a_customers_cards_list_their_subscriptions(gateway: tuple[BraintreeData, Any]) -> None:
    """Braintree searches no subscription by customer: `customer.find` lists them, under the
    customer's payment methods, each with its transactions."""
    data, sdk = gateway
    data.add_customer("c1", email="ana@acme.io", token="tok1")
    data.add_customer("c2", email="ben@acme.io", token="tok2")
    data.payment_methods["tok1b"] = "c1"  # a second card
    data.add_subscription("a", "tok1", created_at=CREATED)
    data.add_subscription("b", "tok1b", created_at=CREATED, plan_id="pro-annual", price="1200")
    data.add_subscription("c", "tok2", created_at=CREATED)
    data.add_transaction("t1", "c1", created_at=CREATED, subscription_id="a")
    customer = sdk.customer.find("c1")
    assert [card.token for card in customer.payment_methods] == ["tok1", "tok1b"]
    subscriptions = [s for card in customer.payment_methods for s in card.subscriptions]
    assert [s.id for s in subscriptions] == ["a", "b"]
    assert [t.id for t in subscriptions[0].transactions] == ["t1"]
    assert isinstance(subscriptions[1].price, Decimal)
    assert [s.id for s in sdk.customer.find("c2").credit_cards[0].subscriptions] == ["c"]


def test_a_refund_is_a_credit_linked_to_its_sale(gateway: tuple[BraintreeData, Any]) -> None:
    data, sdk = gateway
    data.add_customer("c1", email="ana@acme.io", token="tok1")
    data.add_subscription("eu", "tok1", plan_id="pro-annual", price="1200.00",
                          created_at=CREATED, merchant_account_id="acme_eur")  # fmt: skip
    data.add_transaction("sale", "c1", "1200.00", created_at=CREATED, subscription_id="eu",
                         status="settled")  # fmt: skip
    data.refund_transaction("refund", "sale", at=datetime(2026, 11, 5, tzinfo=UTC), amount="200.00")
    refund = sdk.transaction.find("refund")
    assert (refund.type, refund.amount, refund.currency_iso_code) == (
        "credit",
        Decimal("200.00"),
        "EUR",
    )
    assert refund.refunded_transaction_id == "sale"
    assert sdk.transaction.find("sale").refund_ids == ["refund"]
    # A refund is no charge of the subscription.
    assert [t.id for t in sdk.subscription.find("eu").transactions] == ["sale"]


def test_the_issues_company_from_what_the_sdk_returns(
    gateway: tuple[BraintreeData, Any],
) -> None:
    """Three people of one company: one with a monthly plan in dollars and an annual one in
    euros, a trial, a past-due and a cancelled subscription, and a refund."""
    data, sdk = gateway
    rates = ExchangeRates()
    on = rates.info().newest_day  # the rates' newest day stands for today
    created = datetime.combine(on - timedelta(days=36), time(9), tzinfo=UTC)
    for n, email in enumerate(("ana@acme.io", "ben@acme.io", "cleo@acme.io"), 1):
        data.add_customer(f"c{n}", email=email, token=f"tok{n}")
    seat = modification("seat", "10.00", quantity=2)
    subs = [
        ("monthly", "tok1", "team-monthly", "49.00", "main", {"add_ons": [seat]}),
        ("annual", "tok1", "pro-annual", "1200.00", "acme_eur", {}),
        ("trial", "tok1", "solo-monthly", "19.00", "main", {"trial_days": 60}),
        ("late", "tok1", "solo-monthly", "19.00", "main", {}),
        ("gone", "tok1", "pro-monthly", "49.00", "main", {}),
        ("ben", "tok2", "pro-monthly", "49.00", "main", {}),
        ("cleo", "tok3", "solo-monthly", "19.00", "main", {"trial_days": 90}),
    ]
    for sub_id, token, plan, price, account, extra in subs:
        data.add_subscription(sub_id, token, plan_id=plan, price=price, created_at=created,
                              merchant_account_id=account, **extra)  # fmt: skip
    data.set_subscription_status("late", "Past Due", created + timedelta(days=31))
    data.cancel_subscription("gone", created + timedelta(days=20))
    for txn, customer, amount, sub_id in [
        ("t1", "c1", "69.00", "monthly"), ("t2", "c1", "1200.00", "annual"),
        ("t3", "c1", "49.00", "gone"), ("t4", "c2", "49.00", "ben"),
    ]:  # fmt: skip
        data.add_transaction(txn, customer, amount, created_at=created, subscription_id=sub_id,
                             status="settled")  # fmt: skip
    data.add_transaction("t5", "c1", "19.00", created_at=created + timedelta(days=30),
                         subscription_id="late", status="processor_declined")  # fmt: skip
    data.refund_transaction("r1", "t3", at=created + timedelta(days=20))

    plans = plans_by_id(sdk.plan.all())
    currencies = {
        a.id: a.currency_iso_code for a in sdk.merchant_account.all().merchant_accounts.items
    }
    eur_in_usd = rates.convert(Decimal(100), "EUR", "USD", on) / 100

    def person(subscription_ids: list[str], customer_id: str):
        subscriptions = [
            Subscription.from_sdk(sdk.subscription.find(s), currencies) for s in subscription_ids
        ]
        found = sdk.transaction.search(braintree.TransactionSearch.customer_id == customer_id)
        payments = [Payment.from_sdk(t) for t in found.items]
        return summarize_person(
            subscriptions, payments, plans, today=on, reporting_currency="USD", rates=rates
        )

    ana, revenues = person(["monthly", "annual", "trial", "late", "gone"], "c1")
    by_id = {r.subscription_id: r for r in revenues}
    assert by_id["monthly"].mrr == Decimal("69")  # 49 + 2 seats of 10
    assert by_id["annual"].mrr_native == Decimal("100")
    assert by_id["annual"].mrr == (100 * eur_in_usd).quantize(Decimal("0.0001"))
    assert by_id["trial"].in_trial and by_id["trial"].mrr == 0
    assert by_id["gone"].mrr == 0 and by_id["late"].mrr == Decimal("19")
    assert ana.billing_status == "past_due"
    assert ana.mrr == Decimal("88") + by_id["annual"].mrr
    assert ana.lifetime_paid == (Decimal("69") + 1200 * eur_in_usd).quantize(Decimal("0.0001"))
    assert ana.last_payment_status == "processor_declined"
    assert ana.customer_since == created.date()
    ben, _ = person(["ben"], "c2")
    cleo, _ = person(["cleo"], "c3")
    company = summarize_company([ana, ben, cleo])
    assert company.mrr == ana.mrr + Decimal("49")  # type: ignore[operator]
    assert (company.billing_status, company.paying_people) == ("past_due", 2)
    assert company.active_subscriptions == 4 + 1 + 1
