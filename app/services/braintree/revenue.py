"""What one Braintree subscription is worth a month, and whether it counts. Pure: no I/O.

The rules (docs/revenue.md has them with examples):
- the period amount is Braintree's `next_billing_period_amount` where the subscription has
  one (it already holds add-ons and discounts), else its price plus the add-ons minus the
  discounts that still apply to the next period, never below zero;
- MRR is that amount divided by the plan's `billing_frequency` (months). The frequency lives
  on the plan only; a plan the bridge could not read leaves MRR unset, with a reason, rather
  than a guess;
- it counts while the status is Active or Past Due. A subscription in its trial (Braintree
  reports it Active, with `trial_period` set and `first_billing_date` still ahead) counts 0;
  Pending, Canceled and Expired count 0;
- the subscription bills in its merchant account's currency; `mrr` is converted to the
  reporting currency (`ATTIO_DEFAULT_CURRENCY`) at the reference rate of the day computed,
  `mrr_native` keeps the amount in `currency_code`.

Inputs are plain frozen values built from the SDK's objects (`from_sdk`), so the rules can be
tested table-style and the values compared and cached.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from app.clients.attio.values import AMOUNT_PLACES, Values
from app.services.fx import Converter, RateUnavailable

ACTIVE = "Active"
PAST_DUE = "Past Due"
PENDING = "Pending"
# Statuses whose subscriptions bill (a trial is Active but does not bill yet).
COUNTING_STATUSES = frozenset({ACTIVE, PAST_DUE})
# Transactions whose money went (or is going) through; credits in these are refunds paid out.
SUCCESSFUL_PAYMENT_STATUSES = frozenset(
    {
        "submitted_for_settlement",
        "settling",
        "settlement_pending",
        "settlement_confirmed",
        "settled",
    }
)
ZERO = Decimal(0)


def quantize(amount: Decimal) -> Decimal:
    """Four places, as Attio stores a number: sums of quantized amounts then match exactly."""
    return amount.quantize(AMOUNT_PLACES, rounding=ROUND_HALF_EVEN)


def money_text(amount: Decimal) -> str:
    """Fixed-point text, as the transforms write amounts ("100.0000", never "1E+2")."""
    return f"{quantize(amount):f}"


def _get(obj: Any, name: str, default: Any = None) -> Any:
    # The SDK sets only the attributes whose XML elements are present.
    value = getattr(obj, name, default)
    return default if value is None else value


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except ArithmeticError:
        return None


def _int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _day(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value.strip():
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None
    return None


@dataclass(frozen=True)
class Modification:
    """An add-on or a discount on a subscription (Braintree's `Modification`)."""

    id: str
    amount: Decimal
    quantity: int = 1
    number_of_billing_cycles: int | None = None
    current_billing_cycle: int | None = None
    never_expires: bool = True

    @classmethod
    def from_sdk(cls, modification: Any) -> Modification:
        never_expires = _get(modification, "never_expires", None)
        cycles = _int(_get(modification, "number_of_billing_cycles"))
        return cls(
            id=str(_get(modification, "id", "")),
            amount=_decimal(_get(modification, "amount")) or ZERO,
            quantity=_int(_get(modification, "quantity")) or 1,
            number_of_billing_cycles=cycles,
            current_billing_cycle=_int(_get(modification, "current_billing_cycle")),
            never_expires=cycles is None if never_expires is None else bool(never_expires),
        )

    def applies_next_period(self) -> bool:
        """True while the next charge is within the modification's billing cycles."""
        if self.never_expires or self.number_of_billing_cycles is None:
            return True
        return (self.current_billing_cycle or 0) < self.number_of_billing_cycles

    @property
    def total(self) -> Decimal:
        return self.amount * self.quantity


@dataclass(frozen=True)
class Plan:
    """What the bridge needs of a Braintree plan (read through `gateway.plan.all()`)."""

    id: str
    billing_frequency: int  # months between charges
    price: Decimal | None = None
    currency_code: str | None = None

    @classmethod
    def from_sdk(cls, plan: Any) -> Plan | None:
        """None when the plan carries no usable billing frequency."""
        frequency = _int(_get(plan, "billing_frequency"))
        if not frequency or frequency < 1:
            return None
        currency = _get(plan, "currency_iso_code")
        return cls(
            id=str(_get(plan, "id", "")),
            billing_frequency=frequency,
            price=_decimal(_get(plan, "price")),
            currency_code=str(currency).upper() if currency else None,
        )


def plans_by_id(plans: Iterable[Any]) -> dict[str, Plan]:
    """`gateway.plan.all()` as the lookup `subscription_revenue` takes."""
    found = (Plan.from_sdk(plan) for plan in plans)
    return {plan.id: plan for plan in found if plan is not None}


def _successful_sale(transaction: Any) -> bool:
    return (
        _get(transaction, "type", "sale") == "sale"
        and _get(transaction, "status") in SUCCESSFUL_PAYMENT_STATUSES
    )


@dataclass(frozen=True)
class Subscription:
    """A Braintree subscription's state, as the rules read it."""

    id: str
    status: str
    plan_id: str | None = None
    price: Decimal | None = None
    currency_code: str | None = None  # the merchant account's
    add_ons: tuple[Modification, ...] = ()
    discounts: tuple[Modification, ...] = ()
    next_billing_period_amount: Decimal | None = None
    trial_period: bool = False
    first_billing_date: date | None = None
    next_billing_date: date | None = None
    paid_through_date: date | None = None
    merchant_account_id: str | None = None
    # A sale of it went through (from its embedded transactions, or the payments known).
    paid: bool = False

    @classmethod
    def from_sdk(
        cls, subscription: Any, merchant_currencies: Mapping[str, str] | None = None
    ) -> Subscription:
        """From the SDK's `Subscription`. The currency is the merchant account's (from
        `merchant_currencies`, i.e. `gateway.merchant_account.all()`), else the one its newest
        charge or status event reports."""
        account = _get(subscription, "merchant_account_id")
        currency = (merchant_currencies or {}).get(account) if account else None
        transactions = _get(subscription, "transactions", [])
        if currency is None:
            # What its charges and status events were reported in: the same account's.
            history = _get(subscription, "status_history", [])
            reported = [_get(item, "currency_iso_code") for item in [*transactions, *history]]
            currency = next((code for code in reported if code), None)
        return cls(
            id=str(_get(subscription, "id", "")),
            status=str(_get(subscription, "status", "")),
            plan_id=_get(subscription, "plan_id"),
            price=_decimal(_get(subscription, "price")),
            currency_code=str(currency).upper() if currency else None,
            add_ons=tuple(Modification.from_sdk(m) for m in _get(subscription, "add_ons", [])),
            discounts=tuple(Modification.from_sdk(m) for m in _get(subscription, "discounts", [])),
            next_billing_period_amount=_decimal(_get(subscription, "next_billing_period_amount")),
            trial_period=bool(_get(subscription, "trial_period", False)),
            first_billing_date=_day(_get(subscription, "first_billing_date")),
            next_billing_date=_day(_get(subscription, "next_billing_date")),
            paid_through_date=_day(_get(subscription, "paid_through_date")),
            merchant_account_id=account,
            paid=any(_successful_sale(t) for t in transactions),
        )

    def in_trial(self, today: date) -> bool:
        """Braintree reports a trial as Active; its first charge is still ahead."""
        return (
            self.status == ACTIVE
            and self.trial_period
            and self.first_billing_date is not None
            and self.first_billing_date > today
        )

    def counts(self, today: date) -> bool:
        return self.status in COUNTING_STATUSES and not self.in_trial(today)

    def period_amount(self) -> Decimal | None:
        """What the next period bills (tax and the balance aside), never below zero."""
        if self.next_billing_period_amount is not None:
            return max(self.next_billing_period_amount, ZERO)
        if self.price is None:
            return None
        add_ons = sum((m.total for m in self.add_ons if m.applies_next_period()), ZERO)
        discounts = sum((m.total for m in self.discounts if m.applies_next_period()), ZERO)
        return max(self.price + add_ons - discounts, ZERO)


@dataclass(frozen=True)
class SubscriptionRevenue:
    """One subscription's computed values; `reason` says why `mrr` is unset when it is."""

    subscription_id: str
    status: str
    counts: bool
    in_trial: bool
    currency_code: str | None
    mrr_native: Decimal | None
    mrr: Decimal | None  # in the reporting currency
    billing_frequency_months: int | None
    paid_through_date: date | None
    reason: str | None = None

    def attio_values(self) -> Values:
        """The subscription's revenue attributes, in the shapes Attio takes. An unknown
        amount is cleared (`[]`), never left at an old figure; an unknown currency is left
        out (the payment transforms write it too)."""
        values: Values = {"currency_code": self.currency_code} if self.currency_code else {}
        return values | {
            "mrr": [] if self.mrr is None else money_text(self.mrr),
            # A number attribute takes a JSON number (a currency one also takes text); four
            # places and well under 10^11 survive a double exactly.
            "mrr_native": [] if self.mrr_native is None else float(quantize(self.mrr_native)),
            "billing_frequency_months": self.billing_frequency_months
            if self.billing_frequency_months is not None
            else [],
            "in_trial": self.in_trial,
            "paid_through_date": self.paid_through_date.isoformat()
            if self.paid_through_date
            else [],
        }


def subscription_revenue(
    subscription: Subscription,
    plans: Mapping[str, Plan],
    *,
    today: date,
    reporting_currency: str,
    rates: Converter,
) -> SubscriptionRevenue:
    """The subscription's MRR on `today` (see the module's rules)."""
    plan = plans.get(subscription.plan_id or "")
    frequency = plan.billing_frequency if plan else None
    in_trial = subscription.in_trial(today)
    counts = subscription.counts(today)
    currency = subscription.currency_code or (plan.currency_code if plan else None)
    native: Decimal | None = ZERO
    reason: str | None = None
    if counts:
        amount = subscription.period_amount()
        if plan is None:
            native, reason = None, f"plan {subscription.plan_id!r} unread: no billing frequency"
        elif amount is None:
            native, reason = None, "no price or next billing period amount"
        else:
            native = quantize(amount / plan.billing_frequency)
    converted: Decimal | None = native
    if native is not None and native != ZERO:
        if currency is None:
            converted, reason = None, "currency unknown (merchant account not read)"
        else:
            try:
                converted = quantize(rates.convert(native, currency, reporting_currency, today))
            except RateUnavailable as exc:
                converted, reason = None, str(exc)
    return SubscriptionRevenue(
        subscription_id=subscription.id,
        status=subscription.status,
        counts=counts,
        in_trial=in_trial,
        currency_code=currency,
        mrr_native=native,
        mrr=converted,
        billing_frequency_months=frequency,
        paid_through_date=subscription.paid_through_date,
        reason=reason,
    )
