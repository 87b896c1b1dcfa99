"""Braintree SDK objects → Attio `values` dicts. Pure: no I/O and no clock, so table-testable.

The SDK only sets the attributes whose XML elements are present, and every one of them is
optional, so fields are read with `getattr` and a sentinel. Three cases follow:
- absent: the attribute is left out, and Attio keeps what it has;
- present but nil (`nil="true"`) or empty: the attribute is cleared (written as `[]`), because
  that is how Braintree says a field no longer applies (days past due once a subscription is
  active again);
- present: written in Attio's shape. Amounts stay exact (`str(Decimal)`), timestamps are the
  SDK's naive UTC made explicit, and select values are written only when the option exists
  (Attio rejects unknown option titles, which would fail the whole write).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from app.clients.attio.values import Values, text_or_none
from app.schema.definitions import (
    DISPUTE_OUTCOMES,
    DISPUTE_STATUSES,
    SUBSCRIPTION_STATUSES,
    TRANSACTION_STATUSES,
)

# Dispatcher registrations (see the handlers): the kinds this service writes to Attio.
SUBSCRIPTION_KINDS = "subscription_*"
TRANSACTION_KINDS = (
    "transaction_settled",
    "transaction_settlement_declined",
    "transaction_disbursed",
    "transaction_retried",
    "refund_failed",
)
LOCAL_PAYMENT_KINDS = "local_payment_*"
DISPUTE_KINDS = "dispute_*"
# Subscription kinds that carry a new charge, written into `payments` too.
CHARGE_KINDS = frozenset(
    {"subscription_charged_successfully", "subscription_charged_unsuccessfully"}
)

PAYMENT_TYPES = ("sale", "credit")

# Attributes that, once known, do not change with later notifications. An out-of-order
# notification may still fill them in where Attio has nothing yet; everything else is state,
# which only the newest notification may set.
SUBSCRIPTION_FACTS = frozenset({"braintree_subscription_id", "braintree_customer_id", "person"})
PAYMENT_FACTS = frozenset(
    {
        "braintree_transaction_id",
        "amount",
        "currency_code",
        "type",
        "transaction_created_at",
        "settled_at",
        "disbursement_date",
        "payment_instrument_type",
        "braintree_customer_id",
        "person",
        "subscription",
        "dispute_id",
        "dispute_reason",
        "dispute_amount",
    }
)

_MISSING: Any = object()
# Attio validates emails strictly and a rejected value fails the whole write, so an address
# that is clearly not one is treated as no address at all.
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
# The SDK attributes that hold a local payment notification's transaction, by kind.
_LOCAL_PAYMENT_SUBJECTS = (
    "local_payment_completed",
    "local_payment_funded",
    "local_payment_reversed",
    "local_payment_expired",
)


# -- reading SDK values ----------------------------------------------------------------------


def _raw(obj: Any, name: str) -> Any:
    return _MISSING if obj is None else getattr(obj, name, _MISSING)


def text(value: Any) -> str | None:
    """A non-blank string, or None (an attribute the SDK object lacks included)."""
    return None if value is _MISSING else text_or_none(value)


def money(value: Any) -> str | None:
    """An exact decimal string for Attio (never through float), or None if it is not a number."""
    if isinstance(value, bool) or value is None or value is _MISSING:
        return None
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        return None
    # Fixed-point text: Attio parses "100", not the "1E+2" that str(Decimal) can produce.
    return f"{amount:f}" if amount.is_finite() else None


def timestamp(value: Any) -> str | None:
    """ISO 8601 in UTC. The SDK's datetimes are naive UTC; some nested fields stay strings."""
    if isinstance(value, datetime):
        moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return moment.isoformat()
    if isinstance(value, str) and value.strip():
        try:
            return timestamp(datetime.fromisoformat(value.strip().replace("Z", "+00:00")))
        except ValueError:
            return None
    return None


def day(value: Any) -> str | None:
    """`YYYY-MM-DD`; a datetime (some samples use one for a date) keeps its UTC date."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo is None else value.astimezone(UTC)
        return moment.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and value.strip():
        try:
            return date.fromisoformat(value.strip()[:10]).isoformat()
        except ValueError:
            return None
    return None


def integer(value: Any) -> int | None:
    if isinstance(value, bool) or value is None or value is _MISSING:
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def option(allowed: Sequence[str]) -> Callable[[Any], str | None]:
    def convert(value: Any) -> str | None:
        title = text(value)
        return title if title in allowed else None

    return convert


# The select each SDK object's `status` is written to, by the object it belongs to.
STATUS_OPTIONS: dict[str, Sequence[str]] = {
    "subscription": SUBSCRIPTION_STATUSES,
    "payment": TRANSACTION_STATUSES,
    "dispute": DISPUTE_STATUSES,
}


def unknown_status(obj: Any, what: str) -> str | None:
    """`obj.status` when Attio has no option for it (the transforms leave it out), else None."""
    status = text(_raw(obj, "status")) if obj is not None else None
    return status if status is not None and status not in STATUS_OPTIONS[what] else None


def _put(values: Values, slug: str, obj: Any, name: str, convert: Callable[[Any], Any]) -> None:
    """Write `obj.name` to `slug` following the absent / nil / present rules above."""
    raw = _raw(obj, name)
    if raw is _MISSING:
        return
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        values[slug] = []
        return
    converted = convert(raw)
    if converted is not None:
        values[slug] = converted


def event_stamp(kind: str, occurred_at: datetime | None) -> Values:
    """`last_event_kind` / `last_event_at`: what the out-of-order guard compares against."""
    values: Values = {"last_event_kind": kind}
    if (when := timestamp(occurred_at)) is not None:
        values["last_event_at"] = when
    return values


# -- the paying customer ---------------------------------------------------------------------


@dataclass(frozen=True)
class Payer:
    """Who pays, as far as a notification or the Braintree API tells."""

    customer_id: str | None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None


def valid_email(value: Any) -> str | None:
    address = text(value)
    return address if address is not None and _EMAIL.fullmatch(address) else None


def payer_from_customer(customer: Any) -> Payer | None:
    """A Payer from an SDK `Customer` (a transaction's `customer_details`, or `customer.find`)."""
    if customer is None:
        return None
    payer = Payer(
        customer_id=text(getattr(customer, "id", None)),
        email=valid_email(getattr(customer, "email", None)),
        first_name=text(getattr(customer, "first_name", None)),
        last_name=text(getattr(customer, "last_name", None)),
    )
    return payer if payer.customer_id or payer.email else None


# Every attribute `person_values` may write.
PERSON_ATTRIBUTES = frozenset({"email_addresses", "braintree_customer_id", "name"})


def person_values(payer: Payer) -> Values:
    """A `people` assert by email: the address, the Braintree id and the name Braintree has."""
    values: Values = {"email_addresses": [payer.email]}
    if payer.customer_id:
        values["braintree_customer_id"] = payer.customer_id
    if payer.first_name or payer.last_name:
        first, last = payer.first_name or "", payer.last_name or ""
        values["name"] = [
            {"first_name": first, "last_name": last, "full_name": f"{first} {last}".strip()}
        ]
    return values


def _transactions(subscription: Any) -> list[Any]:
    found = getattr(subscription, "transactions", None)
    return list(found) if isinstance(found, Iterable) else []


def newest_transaction(subscription: Any) -> Any | None:
    """The newest of a subscription's transactions.

    Braintree lists up to 20 and the order is not documented, so the creation time decides;
    without times, the first one listed (newest first is what Braintree is seen to send).
    """
    transactions = _transactions(subscription)
    dated = [t for t in transactions if isinstance(getattr(t, "created_at", None), datetime)]
    if dated:
        return max(dated, key=lambda t: t.created_at)
    return transactions[0] if transactions else None


def subscription_payer(subscription: Any) -> Payer | None:
    """The customer of a subscription's newest transaction that names one (preferring email)."""
    transactions = _transactions(subscription)
    newest = newest_transaction(subscription)
    ordered = [newest, *(t for t in transactions if t is not newest)] if newest else []
    payers = [p for t in ordered if (p := payer_from_customer(_customer_of(t))) is not None]
    with_email = [p for p in payers if p.email]
    chosen = with_email or payers
    return chosen[0] if chosen else None


def _customer_of(transaction: Any) -> Any:
    return getattr(transaction, "customer_details", None)


def transaction_payer(transaction: Any) -> Payer | None:
    return payer_from_customer(_customer_of(transaction))


# -- subscriptions ---------------------------------------------------------------------------


def subscription_values(subscription: Any) -> Values:
    """Status, plan, money, billing dates and failures of a `subscriptions` record."""
    values: Values = {"braintree_subscription_id": text(getattr(subscription, "id", None))}
    _put(values, "status", subscription, "status", option(SUBSCRIPTION_STATUSES))
    _put(values, "plan_id", subscription, "plan_id", text)
    _put(values, "price", subscription, "price", money)
    _put(values, "balance", subscription, "balance", money)
    for slug in ("next_billing_date", "billing_period_start_date", "billing_period_end_date"):
        _put(values, slug, subscription, slug, day)
    _put(values, "failure_count", subscription, "failure_count", integer)
    _put(values, "days_past_due", subscription, "days_past_due", integer)
    # A subscription has no currency of its own; its charges carry the merchant account's.
    newest = newest_transaction(subscription)
    if (currency := text(getattr(newest, "currency_iso_code", None))) is not None:
        values["currency_code"] = currency
    return values


# -- payments --------------------------------------------------------------------------------


def transaction_of(notification: Any) -> Any | None:
    """The transaction a `transaction_*`, `refund_failed` or `local_payment_*` kind carries."""
    if (transaction := getattr(notification, "transaction", None)) is not None:
        return transaction
    for name in _LOCAL_PAYMENT_SUBJECTS:
        subject = getattr(notification, name, None)
        if (transaction := getattr(subject, "transaction", None)) is not None:
            return transaction
    return None


def settled_at(transaction: Any, kind: str, occurred_at: datetime | None) -> str | None:
    """When the transaction settled: its status history, else a settlement notification's time."""
    history = getattr(transaction, "status_history", None) or []
    times = [
        event.timestamp
        for event in history
        if getattr(event, "status", None) == "settled"
        and isinstance(getattr(event, "timestamp", None), datetime)
    ]
    if times:
        return timestamp(max(times))
    if kind == "transaction_settled" and getattr(transaction, "status", None) == "settled":
        return timestamp(occurred_at)
    return None


def payment_values(transaction: Any, kind: str, occurred_at: datetime | None) -> Values:
    """Amount, currency, status, type and times of a `payments` record."""
    values: Values = {"braintree_transaction_id": text(getattr(transaction, "id", None))}
    _put(values, "amount", transaction, "amount", money)
    _put(values, "currency_code", transaction, "currency_iso_code", text)
    _put(values, "status", transaction, "status", option(TRANSACTION_STATUSES))
    _put(values, "type", transaction, "type", option(PAYMENT_TYPES))
    if kind == "refund_failed" and "type" not in values:
        values["type"] = "credit"  # the transaction of a failed refund is the refund itself
    _put(values, "transaction_created_at", transaction, "created_at", timestamp)
    if (settled := settled_at(transaction, kind, occurred_at)) is not None:
        values["settled_at"] = settled
    details = getattr(transaction, "disbursement_details", None)
    if (disbursed := day(getattr(details, "disbursement_date", None))) is not None:
        values["disbursement_date"] = disbursed
    _put(values, "payment_instrument_type", transaction, "payment_instrument_type", text)
    return values


# -- disputes --------------------------------------------------------------------------------


def dispute_outcome(kind: str) -> str | None:
    """`dispute_won` → `won`, and so on; None for a kind newer than the schema's options."""
    outcome = kind.removeprefix("dispute_")
    return outcome if outcome in DISPUTE_OUTCOMES else None


def dispute_values(dispute: Any, kind: str) -> Values:
    """The dispute's id, status, reason, amount, reply-by date and this kind's outcome."""
    values: Values = {"dispute_id": text(getattr(dispute, "id", None))}
    _put(values, "dispute_status", dispute, "status", option(DISPUTE_STATUSES))
    _put(values, "dispute_reason", dispute, "reason", text)
    # The SDK's older dispute shape has only `amount`, which is the amount disputed.
    disputed = "amount_disputed" if _raw(dispute, "amount_disputed") is not _MISSING else "amount"
    _put(values, "dispute_amount", dispute, disputed, money)
    _put(values, "dispute_reply_by", dispute, "reply_by_date", day)
    if (outcome := dispute_outcome(kind)) is not None:
        values["dispute_outcome"] = outcome
    return values


def disputed_payment_values(dispute: Any) -> Values:
    """What a dispute knows of its transaction: enough to create the payment if it is missing."""
    transaction = getattr(dispute, "transaction", None)
    values: Values = {"braintree_transaction_id": text(getattr(transaction, "id", None))}
    if (amount := money(getattr(transaction, "amount", None))) is not None:
        values["amount"] = amount
    if (currency := text(getattr(dispute, "currency_iso_code", None))) is not None:
        values["currency_code"] = currency
    # TransactionDetails keeps created_at as the XML string; `timestamp` reads both forms.
    if (created := timestamp(getattr(transaction, "created_at", None))) is not None:
        values["transaction_created_at"] = created
    return values
