"""A paying person's billing at a glance, and their company's as the sum over its people. Pure.

A summary is recomputed from the subscriptions' and payments' current state, never
incremented, so a redelivered, replayed or out-of-order notification cannot count twice.

Person:
- `billing_status`: the first that applies of past_due > active > trialing > cancelled over
  their subscriptions (Past Due; Active and billing; in a trial or Pending, i.e. not billed
  yet; Canceled or Expired); none when they never had a subscription;
- `mrr` (and `arr` = 12 x `mrr`): the sum of their subscriptions' converted MRR; unset when one
  that counts could not be computed (a sum that leaves one out would be a guess);
- `customer_since`: the first billing date of their earliest paid subscription;
- `lifetime_paid`: sales that went through minus credits (refunds) that did, converted;
- `last_payment_at` / `last_payment_status`: their newest sale, whatever became of it;
- `next_billing_date`: the earliest among their live (Active or Past Due) subscriptions,
  `active_subscriptions` how many those are.
Company: the same over its people (sums, the earliest and newest dates, the first status that
applies), and `paying_people`: how many of them have a subscription that bills.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from app.clients.attio.values import Record, Values, current_values, iso_timestamp
from app.clients.attio.values import parse_timestamp as attio_timestamp
from app.schema.definitions import TRANSACTION_STATUSES, ObjectSpec
from app.services.braintree.revenue import (
    COUNTING_STATUSES,
    PAST_DUE,
    PENDING,
    SUCCESSFUL_PAYMENT_STATUSES,
    ZERO,
    Plan,
    Subscription,
    SubscriptionRevenue,
    money_text,
    quantize,
    subscription_revenue,
)
from app.services.fx import Converter, RateUnavailable

TRIALING, ACTIVE, PAST_DUE_STATUS, CANCELLED = "trialing", "active", "past_due", "cancelled"
# First that applies wins; the schema's options (`BILLING_STATUSES`) are the same four.
STATUS_PRIORITY = (PAST_DUE_STATUS, ACTIVE, TRIALING, CANCELLED)
# Written by every summary write, and left out of the comparison that decides whether to write.
STAMP = "billing_updated_at"


@dataclass(frozen=True)
class Payment:
    """A Braintree transaction, as the summary reads it."""

    id: str
    type: str  # sale or credit
    status: str
    amount: Decimal
    currency_code: str | None
    created_at: datetime
    subscription_id: str | None = None

    @classmethod
    def from_sdk(cls, transaction: Any) -> Payment:
        def get(name: str) -> Any:
            return getattr(transaction, name, None)

        created = get("created_at") or datetime.min
        if created.tzinfo is None:  # the SDK's datetimes are naive UTC
            created = created.replace(tzinfo=UTC)
        return cls(
            id=str(get("id") or ""),
            type=str(get("type") or "sale"),
            status=str(get("status") or ""),
            amount=Decimal(str(get("amount") or 0)),
            currency_code=str(get("currency_iso_code")).upper()
            if get("currency_iso_code")
            else None,
            created_at=created,
            subscription_id=get("subscription_id"),
        )

    @property
    def went_through(self) -> bool:
        return self.status in SUCCESSFUL_PAYMENT_STATUSES

    @property
    def signed_amount(self) -> Decimal:
        """What it adds to the money received: a refund (credit) takes away."""
        return -self.amount if self.type == "credit" else self.amount


def _first_status(statuses: Iterable[str | None]) -> str | None:
    present = set(statuses)
    return next((status for status in STATUS_PRIORITY if status in present), None)


def subscription_status(revenue: SubscriptionRevenue) -> str:
    """What one subscription says of its customer."""
    if revenue.status == PAST_DUE:
        return PAST_DUE_STATUS
    if revenue.counts:
        return ACTIVE
    if revenue.in_trial or revenue.status == PENDING:
        return TRIALING  # not billed yet, as a trial
    return CANCELLED


def _sum(amounts: Iterable[Decimal | None]) -> Decimal | None:
    total = ZERO
    for amount in amounts:
        if amount is None:
            return None
        total += amount
    return total


@dataclass(frozen=True)
class BillingSummary:
    """The values a person or a company shows; `problems` says why an amount is unset."""

    billing_status: str | None = None
    mrr: Decimal | None = ZERO
    customer_since: date | None = None
    lifetime_paid: Decimal | None = ZERO
    last_payment_at: datetime | None = None
    last_payment_status: str | None = None
    next_billing_date: date | None = None
    active_subscriptions: int = 0
    problems: tuple[str, ...] = field(default=(), compare=False)

    @property
    def arr(self) -> Decimal | None:
        return None if self.mrr is None else self.mrr * 12

    def attio_values(self, *, updated_at: datetime) -> Values:
        """Every summary attribute in Attio's shapes; an unknown value is cleared (`[]`)."""
        status = self.last_payment_status
        return {
            "billing_status": self.billing_status or [],
            "mrr": _money(self.mrr),
            "arr": _money(self.arr),
            "customer_since": self.customer_since.isoformat() if self.customer_since else [],
            "lifetime_paid": _money(self.lifetime_paid),
            "last_payment_at": iso_timestamp(self.last_payment_at) or [],
            "last_payment_status": status if status in TRANSACTION_STATUSES else [],
            "next_billing_date": self.next_billing_date.isoformat()
            if self.next_billing_date
            else [],
            "active_subscriptions": self.active_subscriptions,
            STAMP: iso_timestamp(updated_at),
        }


def _money(amount: Decimal | None) -> str | list[Any]:
    return [] if amount is None else money_text(amount)


@dataclass(frozen=True)
class PersonSummary(BillingSummary):
    @property
    def paying(self) -> bool:
        """A subscription of theirs bills: exactly when they are active or past due."""
        return self.billing_status in (ACTIVE, PAST_DUE_STATUS)

    @classmethod
    def from_record(cls, record: Record) -> PersonSummary:
        """The summary a person record holds (what a company's sum is made of), read back
        from Attio's values; an amount Attio holds none of reads as unknown."""

        def one(slug: str) -> Any:
            held = current_values(record, slug)
            return held[0] if held else None

        def amount(slug: str) -> Decimal | None:
            value = one(slug)
            return None if value is None else Decimal(str(value))

        def day(slug: str) -> date | None:
            value = one(slug)
            return None if value is None else date.fromisoformat(str(value)[:10])

        last = one("last_payment_at")
        return cls(
            billing_status=one("billing_status"),
            mrr=amount("mrr"),
            customer_since=day("customer_since"),
            lifetime_paid=amount("lifetime_paid"),
            last_payment_at=attio_timestamp(str(last)) if last else None,
            last_payment_status=one("last_payment_status"),
            next_billing_date=day("next_billing_date"),
            active_subscriptions=int(one("active_subscriptions") or 0),
        )


@dataclass(frozen=True)
class CompanySummary(BillingSummary):
    paying_people: int = 0

    def attio_values(self, *, updated_at: datetime) -> Values:
        return super().attio_values(updated_at=updated_at) | {"paying_people": self.paying_people}


def summarize_person(
    subscriptions: Iterable[Subscription],
    payments: Iterable[Payment],
    plans: Mapping[str, Plan],
    *,
    today: date,
    reporting_currency: str,
    rates: Converter,
) -> tuple[PersonSummary, list[SubscriptionRevenue]]:
    """One customer's summary on `today`, and each subscription's values on the way."""
    subscriptions = list(subscriptions)
    payments = sorted(payments, key=lambda p: p.created_at)
    revenues = [
        subscription_revenue(
            s, plans, today=today, reporting_currency=reporting_currency, rates=rates
        )
        for s in subscriptions
    ]
    problems = [f"subscription {r.subscription_id}: {r.reason}" for r in revenues if r.reason]
    paid_ids = {p.subscription_id for p in payments if p.type == "sale" and p.went_through}
    paid_since = [
        s.first_billing_date or _first_sale_day(s.id, payments)
        for s in subscriptions
        if s.paid or s.id in paid_ids
    ]
    lifetime: Decimal | None = ZERO
    for payment in payments:
        if not payment.went_through or lifetime is None:
            continue
        try:
            lifetime += _convert(payment, reporting_currency, today, rates)
        except RateUnavailable as exc:
            lifetime = None
            problems.append(f"payment {payment.id}: {exc}")
    sales = [p for p in payments if p.type == "sale"]
    live = [s for s in subscriptions if s.status in COUNTING_STATUSES]
    upcoming = [s.next_billing_date for s in live if s.next_billing_date]
    summary = PersonSummary(
        billing_status=_first_status(subscription_status(r) for r in revenues),
        mrr=_sum(r.mrr for r in revenues),
        customer_since=min((d for d in paid_since if d), default=None),
        lifetime_paid=None if lifetime is None else quantize(lifetime),
        last_payment_at=sales[-1].created_at if sales else None,
        last_payment_status=sales[-1].status if sales else None,
        next_billing_date=min(upcoming, default=None),
        active_subscriptions=len(live),
        problems=tuple(problems),
    )
    return summary, revenues


def _first_sale_day(subscription_id: str, payments: list[Payment]) -> date | None:
    days = [
        p.created_at.date()
        for p in payments
        if p.subscription_id == subscription_id and p.type == "sale" and p.went_through
    ]
    return min(days, default=None)


def _convert(payment: Payment, to: str, today: date, rates: Converter) -> Decimal:
    if payment.currency_code is None:
        raise RateUnavailable("currency unknown")
    return rates.convert(payment.signed_amount, payment.currency_code, to, today)


def summarize_company(people: Iterable[PersonSummary]) -> CompanySummary:
    """The company's summary over the people Attio links to it."""
    people = list(people)
    newest = max(
        (p for p in people if p.last_payment_at is not None),
        key=lambda p: p.last_payment_at or datetime.min.replace(tzinfo=UTC),
        default=None,
    )
    lifetime = _sum(p.lifetime_paid for p in people)
    return CompanySummary(
        billing_status=_first_status(p.billing_status for p in people),
        mrr=_sum(p.mrr for p in people),
        customer_since=min((p.customer_since for p in people if p.customer_since), default=None),
        lifetime_paid=lifetime,
        last_payment_at=newest.last_payment_at if newest else None,
        last_payment_status=newest.last_payment_status if newest else None,
        next_billing_date=min(
            (p.next_billing_date for p in people if p.next_billing_date), default=None
        ),
        active_subscriptions=sum(p.active_subscriptions for p in people),
        problems=tuple(problem for p in people for problem in p.problems),
        paying_people=sum(1 for p in people if p.paying),
    )


# -- the check: every sum adds up ---------------------------------------------------------


def mrr_mismatches(
    totals: Mapping[str, Decimal | None], parts: Iterable[tuple[str, Decimal | None]]
) -> list[str]:
    """Where a person's (or company's) `mrr` is not the sum of its subscriptions' (or
    people's): `totals` by owner id, `parts` as (owner id, mrr). Unknown on either side is
    a mismatch unless both are unknown."""
    sums: dict[str, Decimal | None] = dict.fromkeys(totals, ZERO)
    for owner, mrr in parts:
        current = sums.get(owner, ZERO)
        sums[owner] = None if current is None or mrr is None else current + mrr
    found = []
    for owner in sorted(sums):
        total, summed = totals.get(owner, ZERO), sums[owner]
        if total != summed:
            found.append(f"{owner}: mrr {total} but its parts sum to {summed}")
    return found


# -- writing only what changed -----------------------------------------------------------


def changed_values(spec: ObjectSpec, record: Record | None, values: Values) -> Values:
    """The part of `values` that differs from what `record` holds (all of it for no record).

    `billing_updated_at` is no difference of its own: it is written when something else is,
    so an unchanged summary costs no write.
    """
    changed = {
        slug: value
        for slug, value in values.items()
        if slug != STAMP
        and (record is None or not _same(spec.attribute(slug).type, value, record, slug))
    }
    if changed and STAMP in values:
        changed[STAMP] = values[STAMP]
    return changed


def _same(kind: str, value: Any, record: Record, slug: str) -> bool:
    held = current_values(record, slug)
    if value == [] or value is None:
        return not held
    if len(held) != 1 or held[0] is None:
        return False
    current = held[0]
    if kind in ("currency", "number"):
        return Decimal(str(current)) == Decimal(str(value))
    if kind == "timestamp":
        return attio_timestamp(str(current)) == attio_timestamp(str(value))
    if kind == "date":
        return str(current)[:10] == str(value)[:10]
    return bool(current == value)
