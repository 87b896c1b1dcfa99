"""Braintree does not deliver in order: the newest notification's state must win.

Each record keeps `last_event_at` (the notification's own timestamp). A notification older than
that is stale: its state changes are skipped, but facts Attio does not have yet are still
written (`new_facts`). Read-compare-write of one record runs under the record's lock
(`app.services.locks`), which the sync holds too: in-process always, and across processes (web
instances, queue workers, a CLI run) when Redis is configured, so two notifications for the
same record never interleave. Without Redis, or while it cannot be reached, only one process's
events are ordered: two deliveries for the same record processed at the same instant by two
processes can both pass the guard, and the later write wins even if it carries the older
notification (Attio has no conditional writes); the next notification for that record restores
the newest state.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from app.clients.attio.values import (
    Record,
    Values,
    first_value,
    parse_timestamp,
    timestamp_value,
)
from app.schema.definitions import DISPUTE_STAMP, PAYMENT_STAMP
from app.services.braintree.transforms import timestamp

# Stamps follow the change they accompany: a sync never writes for them alone.
STAMPS = frozenset({"last_event_kind", "last_event_at", PAYMENT_STAMP, DISPUTE_STAMP})


def is_stale(
    record: Record | None, occurred_at: datetime | None, stamp: str = "last_event_at"
) -> bool:
    """Whether `record` already holds state from a notification newer than this one.

    Equal timestamps are not stale: a redelivery of the same notification rewrites the same
    values, and Braintree's whole-second timestamps make exact ties between kinds possible.
    A notification without a timestamp cannot prove it is newer than recorded state.
    """
    last = _last_event_at(record, stamp) if record is not None else None
    if last is None:
        return False
    return occurred_at is None or occurred_at < last


def _last_event_at(record: Record, stamp: str = "last_event_at") -> datetime | None:
    return timestamp_value(record, stamp)


def is_redelivery(record: Record | None, kind: str, occurred_at: datetime | None) -> bool:
    """Whether `record`'s newest applied notification is this one (same kind and time)."""
    if record is None or occurred_at is None:
        return False
    return first_value(record, "last_event_kind") == kind and _last_event_at(record) == occurred_at


def new_facts(values: Values, record: Record | None, facts: Collection[str]) -> Values:
    """The part of `values` a stale notification may still write: facts Attio lacks.

    Clearing is never a new fact, so empty values are dropped too.
    """
    return {
        slug: value
        for slug, value in values.items()
        if slug in facts
        and value not in (None, [])
        and (record is None or first_value(record, slug) is None)
    }


# -- without a `payments` object: the subscription keeps its latest payment and open dispute --

# `payments` attribute -> the subscription's attribute for its latest payment.
LATEST_PAYMENT = {
    "braintree_transaction_id": "last_payment_id",
    "amount": "last_payment_amount",
    "currency_code": "last_payment_currency",
    "status": "last_payment_status",
    "transaction_created_at": "last_payment_at",
}
_LATEST_PAYMENT_FACTS = ("last_payment_amount", "last_payment_currency", "last_payment_at")
OPEN_DISPUTE = (
    "dispute_id",
    "dispute_status",
    "dispute_amount",
    "dispute_reply_by",
    "dispute_outcome",
)
_OPEN_DISPUTE_FACTS = ("dispute_id", "dispute_amount")


def latest_payment(record: Record | None, payment: Values, occurred_at: datetime | None) -> Values:
    """What a transaction's state changes on its subscription's latest-payment attributes.

    The same transaction follows its own clock (`last_payment_event_at`): an older
    notification only fills gaps. Another transaction replaces the latest one only when it was
    created later (a retried charge after a failed one), and then clears what it does not say.
    """
    values = {LATEST_PAYMENT[slug]: v for slug, v in payment.items() if slug in LATEST_PAYMENT}
    current = first_value(record, "last_payment_id") if record is not None else None
    if current is not None and current != values.get("last_payment_id"):
        assert record is not None
        latest_at = timestamp_value(record, "last_payment_at")
        created = values.get("last_payment_at")
        if latest_at is not None and (created is None or parse_timestamp(created) < latest_at):
            return {}  # an older payment than the one the subscription shows
        values = {slug: values.get(slug, []) for slug in LATEST_PAYMENT.values()}
    elif is_stale(record, occurred_at, PAYMENT_STAMP):
        return new_facts(values, record, _LATEST_PAYMENT_FACTS)
    if (when := timestamp(occurred_at)) is not None:
        values[PAYMENT_STAMP] = when
    return values


def open_dispute(record: Record | None, dispute: Values, occurred_at: datetime | None) -> Values:
    """What a dispute notification changes on its subscription; disputes keep their own clock."""
    values = {slug: v for slug, v in dispute.items() if slug in OPEN_DISPUTE}
    if is_stale(record, occurred_at, DISPUTE_STAMP):
        return new_facts(values, record, _OPEN_DISPUTE_FACTS)
    if (when := timestamp(occurred_at)) is not None:
        values[DISPUTE_STAMP] = when
    return values
