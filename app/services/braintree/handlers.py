"""Braintree notifications applied to Attio records linked to the paying person.

- `subscription_*`: `subscriptions` by `braintree_subscription_id`; a charge also writes its
  newest transaction into `payments`;
- `transaction_settled`, `transaction_settlement_declined`, `transaction_disbursed`,
  `transaction_retried`, `refund_failed`, `local_payment_*` with a transaction: `payments` by
  `braintree_transaction_id`;
- `dispute_*`: the disputed transaction's `payments` record.

Without a `payments` object (`ATTIO_PAYMENTS_OBJECT=false`) the subscription keeps its latest
payment and open dispute instead (`ordering.latest_payment`, `ordering.open_dispute`); a
transaction or dispute of no subscription (a one-off sale) has nowhere to go: it is logged and
counted in `bridge_unplaced_events_total`.

Each of them also recomputes the payer's billing summary and their company's (`billing.py`).
Everything else (`check` included) has no handler: answered 200 and counted as ignored.
Writes are asserts by Braintree's own ids, so a duplicate or a replay lands on the
same records with the same values. A handler raises `MalformedPayloadError` for a notification
that can never apply (no subscription id, say); Attio and Braintree API errors propagate so the
ledger retries the event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from app.clients.attio import AttioClient
from app.clients.attio.values import (
    Record,
    Values,
    changed_slugs,
    first_value,
    record_id,
    reference,
)
from app.clients.braintree import BraintreeClient
from app.errors import MalformedPayloadError
from app.events.model import WebhookEvent
from app.log import get_logger
from app.metrics import STALE_EVENTS, UNPLACED_EVENTS
from app.schema.definitions import (
    DISPUTE_STAMP,
    PAYMENT_KEY,
    PAYMENTS,
    SERVICES,
    SUBSCRIPTION_KEY,
    SUBSCRIPTIONS,
)
from app.services.braintree.billing import Billing, CustomerBilling
from app.services.braintree.billing_links import customer_id_of, customer_summary, settle_summary
from app.services.braintree.catalogue import ServiceCatalogue
from app.services.braintree.ordering import (
    is_stale,
    latest_payment,
    new_facts,
    open_dispute,
)
from app.services.braintree.people import Discover, PayerResolver, PersonLink
from app.services.braintree.statuses import report_unknown_status
from app.services.braintree.transforms import (
    CHARGE_KINDS,
    PAYMENT_FACTS,
    SUBSCRIPTION_FACTS,
    Payer,
    dispute_values,
    disputed_payment_values,
    event_stamp,
    newest_transaction,
    payment_values,
    subscription_payer,
    subscription_values,
    text,
    timestamp,
    transaction_of,
    transaction_payer,
)
from app.services.locks import KeyedLocks

log = get_logger(__name__)

_UNIQUE_KEYS = {SUBSCRIPTIONS: SUBSCRIPTION_KEY, PAYMENTS: PAYMENT_KEY}


@dataclass(frozen=True)
class _Target:
    """The record an event applies to, read under its lock."""

    obj: str
    key: str
    existing: Record | None
    stale: bool  # the record holds newer state than the event


class BraintreeHandlers:
    """The notification handlers, sharing one Attio client, one Braintree client and the
    record locks (the sync's too: a run and a webhook never interleave on a record)."""

    def __init__(
        self,
        attio: AttioClient,
        braintree: BraintreeClient | None,
        *,
        payments_object: bool,
        locks: KeyedLocks,
        catalogue: ServiceCatalogue,
        billing: Billing | None = None,
    ) -> None:
        self._attio = attio
        self._billing = billing
        self._braintree = braintree
        self._payments = payments_object  # False: payments live on their subscription
        self._people = PayerResolver(attio, braintree)
        self._locks = locks
        self._catalogue = catalogue

    # -- subscriptions -----------------------------------------------------------------------

    async def on_subscription(self, event: WebhookEvent) -> None:
        """Assert the subscription; for a charge, also its newest transaction as a payment.
        The customer's summary goes into the person's write (docs/revenue.md has the costs)."""
        subscription = _subject(event, "subscription")
        subscription_id = _object_id(event, subscription, "subscription")
        report_unknown_status("subscription", subscription, **event.log_fields())
        async with self._target(event, SUBSCRIPTIONS, subscription_id) as target:
            hint = subscription_payer(subscription)
            tried = customer_id_of(hint, PersonLink.of(target.existing))
            billing = await self._summary(hint, PersonLink.of(target.existing))
            payer = await self._payer(
                target, hint, self._discover_by_payment_method(subscription), billing
            )
            billing = billing if tried else await self._summary(payer)
            values = {**subscription_values(subscription), **_link(payer)}
            if not target.stale:
                values |= await self._service_link(subscription, target.existing)
            transaction = newest_transaction(subscription)
            charge = event.event_type in CHARGE_KINDS and transaction is not None
            if charge:
                report_unknown_status("payment", transaction, **event.log_fields())
            # Revenue is Braintree's current state, not the event's: written even when stale.
            folded: Values = billing.subscription_values(subscription_id) if billing else {}
            if charge and not self._payments:
                payment = payment_values(transaction, event.event_type, event.occurred_at)
                folded |= latest_payment(target.existing, payment, event.occurred_at)
            record = await self._write_event(
                event, target, values, SUBSCRIPTION_FACTS, unstamped=folded
            )
            if charge and self._payments:
                await self._record_charge(event, transaction, record, payer, counted=target.stale)
        await settle_summary(self._billing, event, billing, payer, written=subscription_id)

    async def _record_charge(
        self,
        event: WebhookEvent,
        transaction: Any,
        subscription: Record,
        payer: PersonLink | None,
        *,
        counted: bool,
    ) -> None:
        """The charge's transaction is a new fact, even when the subscription has newer state.

        The payment is read first, so that a newer transaction notification's state (a
        settlement delivered before the charge) is kept.
        """
        transaction_id = text(getattr(transaction, "id", None))
        if transaction_id is None:
            log.warning("braintree.charge.without_transaction_id", **event.log_fields())
            return
        values = payment_values(transaction, event.event_type, event.occurred_at)
        values |= _link(payer) | {"subscription": reference(SUBSCRIPTIONS, record_id(subscription))}
        async with self._target(event, PAYMENTS, transaction_id, count=not counted) as target:
            await self._write_event(event, target, values, PAYMENT_FACTS)

    async def _service_link(self, subscription: Any, existing: Record | None) -> Values:
        """The `services` record whose SKU is the plan id (from the cached catalogue)."""
        plan_id = text(getattr(subscription, "plan_id", None))
        if plan_id is None:
            return {}
        linked = first_value(existing, "service") if existing is not None else None
        same_plan = existing is not None and first_value(existing, "plan_id") == plan_id
        if same_plan and linked is not None:
            return {}
        service_id = await self._catalogue.service_for(plan_id)
        if service_id is not None:
            return {"service": reference(SERVICES, service_id)}
        # A plan change to a plan without a service must not keep the old plan's service.
        return {"service": []} if linked is not None else {}

    def _discover_by_payment_method(self, subscription: Any) -> Discover:
        """A subscription names no customer, but its payment method belongs to one."""
        token = text(getattr(subscription, "payment_method_token", None))

        async def discover() -> Payer | None:
            if self._braintree is None or token is None:
                return None
            customer_id = await self._braintree.customer_id_for_payment_method(token)
            return Payer(customer_id=customer_id) if customer_id else None

        return discover

    # -- payments ----------------------------------------------------------------------------

    async def on_transaction(self, event: WebhookEvent) -> None:
        """Assert the transaction's payment: amount, status, type, times, person, subscription."""
        transaction = transaction_of(event.payload)
        if transaction is None:
            if event.event_type.startswith("local_payment_"):
                # expired / reversed local payments never became a transaction
                log.info("braintree.local_payment.without_transaction", **event.log_fields())
                return
            raise MalformedPayloadError(
                f"Braintree {event.event_type} notification carries no transaction"
            )
        transaction_id = _object_id(event, transaction, "transaction")
        report_unknown_status("payment", transaction, **event.log_fields())
        if not self._payments:
            subscription_id = text(getattr(transaction, "subscription_id", None))
            payment = payment_values(transaction, event.event_type, event.occurred_at)
            await self._fold(
                event,
                subscription_id,
                lambda existing: latest_payment(existing, payment, event.occurred_at),
                payer=transaction_payer(transaction),
                discover=self._discover_by_transaction(transaction_id),
            )
            return
        async with self._target(event, PAYMENTS, transaction_id) as target:
            hint = transaction_payer(transaction)
            tried = customer_id_of(hint, PersonLink.of(target.existing))
            billing = await self._summary(hint, PersonLink.of(target.existing))
            payer = await self._payer(
                target, hint, self._discover_by_transaction(transaction_id), billing
            )
            billing = billing if tried else await self._summary(payer)
            values = payment_values(transaction, event.event_type, event.occurred_at)
            values |= _link(payer) | await self._subscription_link(transaction, target.existing)
            await self._write_event(event, target, values, PAYMENT_FACTS)
        await settle_summary(self._billing, event, billing, payer)

    async def _subscription_link(self, transaction: Any, existing: Record | None) -> Values:
        """A subscription's payment links to it, even before any subscription notification.

        The subscription is asserted with its id alone, which creates it when the bridge has
        not heard of it yet and never touches the state its own notifications set.
        """
        subscription_id = text(getattr(transaction, "subscription_id", None))
        if subscription_id is None:
            return {}
        if existing is not None and first_value(existing, "subscription") is not None:
            return {}
        subscription = await self._attio.assert_record(
            SUBSCRIPTIONS,
            matching_attribute=SUBSCRIPTION_KEY,
            values={SUBSCRIPTION_KEY: subscription_id},
        )
        return {"subscription": reference(SUBSCRIPTIONS, record_id(subscription))}

    def _discover_by_transaction(self, transaction_id: str) -> Discover:
        """The full transaction from Braintree names its customer."""

        async def discover() -> Payer | None:
            if self._braintree is None:
                return None
            transaction = await self._braintree.find_transaction(transaction_id)
            return transaction_payer(transaction) if transaction is not None else None

        return discover

    # -- disputes ----------------------------------------------------------------------------

    async def on_dispute(self, event: WebhookEvent) -> None:
        """Put the dispute on its transaction's payment, creating the payment if need be."""
        dispute = _subject(event, "dispute")
        _object_id(event, dispute, "dispute")
        report_unknown_status("dispute", dispute, **event.log_fields())
        transaction_id = text(getattr(getattr(dispute, "transaction", None), "id", None))
        if transaction_id is None:
            raise MalformedPayloadError(
                f"Braintree {event.event_type} notification names no disputed transaction"
            )
        if not self._payments:
            state = dispute_values(dispute, event.event_type)
            await self._fold(
                event,
                await self._disputed_subscription(dispute, transaction_id),
                lambda existing: open_dispute(existing, state, event.occurred_at),
                payer=None,
                discover=self._discover_by_transaction(transaction_id),
            )
            return
        # Disputes keep their own clock: they carry no transaction status, so they must not
        # make a later settlement look stale (nor a settlement an older dispute outcome).
        async with self._target(event, PAYMENTS, transaction_id, stamp=DISPUTE_STAMP) as target:
            payer = await self._payer(target, None, self._discover_by_transaction(transaction_id))
            billing = await self._summary(payer)
            existing = target.existing
            # The dispute only summarises its transaction: that fills gaps, never overwrites.
            values = _facts_only(
                disputed_payment_values(dispute) | _link(payer),
                existing,
                PAYMENT_FACTS,
                PAYMENT_KEY,
            )
            state = dispute_values(dispute, event.event_type)
            if target.stale:
                state = new_facts(state, existing, PAYMENT_FACTS)
            elif (when := timestamp(event.occurred_at)) is not None:
                state[DISPUTE_STAMP] = when
            await self._write(target, values | state)
        await settle_summary(self._billing, event, billing, payer)

    # -- without a `payments` object ----------------------------------------------------------

    async def _fold(
        self,
        event: WebhookEvent,
        subscription_id: str | None,
        change: Callable[[Record | None], Values],
        *,
        payer: Payer | None,
        discover: Discover,
    ) -> None:
        """Apply a payment or dispute to its subscription, under the subscription's lock."""
        if subscription_id is None:
            # A one-off sale: this layout has no record for it. Never a failure.
            log.info("braintree.event.unplaced", **event.log_fields())
            UNPLACED_EVENTS.labels(event.event_type).inc()
            return
        async with self._locks.hold(f"{SUBSCRIPTIONS}:{subscription_id}"):
            existing = await self._attio.find_record(
                SUBSCRIPTIONS, SUBSCRIPTION_KEY, subscription_id
            )
            values = change(existing)
            if not values and existing is not None:
                # Older than what the subscription shows, by the payment's or dispute's own
                # clock (not the subscription's `last_event_at`).
                self._report_stale(event, existing, SUBSCRIPTIONS, subscription_id)
                return
            target = _Target(SUBSCRIPTIONS, SUBSCRIPTION_KEY, existing, stale=False)
            linked = known = PersonLink.of(existing)
            tried = customer_id_of(payer, known)
            billing = await self._summary(payer, known)
            if known is None or known.record_id is None:  # the person is a fact: fill it once
                linked = await self._payer(target, payer, discover, billing)
                values = new_facts(_link(linked), existing, SUBSCRIPTION_FACTS) | values
            billing = billing if tried else await self._summary(linked)
            if billing is not None:
                values |= billing.subscription_values(subscription_id)
            await self._write(target, {SUBSCRIPTION_KEY: subscription_id, **values})
        await settle_summary(self._billing, event, billing, linked)

    async def _disputed_subscription(self, dispute: Any, transaction_id: str) -> str | None:
        """The subscription of a disputed transaction: named by the dispute, else the one whose
        latest payment it is, else Braintree's transaction says."""
        details = getattr(dispute, "transaction", None)
        if (
            named := text(getattr(details, "payment_instrument_subscription_id", None))
        ) is not None:
            return named
        shown = await self._attio.find_record(SUBSCRIPTIONS, "last_payment_id", transaction_id)
        if shown is not None:
            return text(first_value(shown, SUBSCRIPTION_KEY))
        if self._braintree is None:
            return None
        transaction = await self._braintree.find_transaction(transaction_id)
        return text(getattr(transaction, "subscription_id", None)) if transaction else None

    # -- shared ------------------------------------------------------------------------------

    @asynccontextmanager
    async def _target(
        self,
        event: WebhookEvent,
        obj: str,
        object_id: str,
        *,
        count: bool = True,
        stamp: str = "last_event_at",
    ) -> AsyncIterator[_Target]:
        """Hold the record's lock, read it, and say whether the event is older than its state."""
        key = _UNIQUE_KEYS[obj]
        async with self._locks.hold(f"{obj}:{object_id}"):
            existing = await self._attio.find_record(obj, key, object_id)
            stale = self._stale(event, existing, obj, object_id, count=count, stamp=stamp)
            yield _Target(obj, key, existing, stale)

    async def _payer(
        self,
        target: _Target,
        payer: Payer | None,
        discover: Discover,
        billing: CustomerBilling | None = None,
    ) -> PersonLink | None:
        return await self._people.resolve(
            payer,
            known=PersonLink.of(target.existing),
            discover=discover,
            stale=target.stale,
            billing=billing,
        )

    async def _summary(self, *sources: Payer | PersonLink | None) -> CustomerBilling | None:
        return await customer_summary(self._billing, *sources)

    async def _write_event(
        self,
        event: WebhookEvent,
        target: _Target,
        values: Values,
        facts: frozenset[str],
        *,
        unstamped: Values | None = None,
    ) -> Record:
        """The event's state, stamped with its time; only new facts when it is stale.

        `unstamped` follows a clock of its own (a folded payment) and is written as given.
        """
        if target.stale:
            values = _facts_only(values, target.existing, facts, target.key)
        else:
            values = values | event_stamp(event.event_type, event.occurred_at)
        return await self._write(target, values | (unstamped or {}))

    def _stale(
        self,
        event: WebhookEvent,
        record: Record | None,
        obj: str,
        object_id: str,
        *,
        count: bool = True,
        stamp: str = "last_event_at",
    ) -> bool:
        if not is_stale(record, event.occurred_at, stamp):
            return False
        self._report_stale(event, record, obj, object_id, count=count)
        return True

    def _report_stale(
        self,
        event: WebhookEvent,
        record: Record | None,
        obj: str,
        object_id: str,
        *,
        count: bool = True,
    ) -> None:
        log.info(
            "braintree.event.stale",
            object=obj,
            object_id=object_id,
            occurred_at=event.occurred_at.isoformat() if event.occurred_at else None,
            last_event_at=first_value(record, "last_event_at") if record else None,
            **event.log_fields(),
        )
        if count:
            STALE_EVENTS.labels(event.source.value, event.event_type).inc()

    async def _write(self, target: _Target, values: Values) -> Record:
        """Assert the record, unless it exists and already holds every value: a redelivered,
        replayed or taken-over event costs no write. Stamps are compared too, so a newer event
        with the same values still moves them (and older events stay stale against it)."""
        if target.existing is not None and not changed_slugs(values, target.existing):
            return target.existing
        return await self._attio.assert_record(
            target.obj, matching_attribute=target.key, values=values
        )


def _link(payer: PersonLink | None) -> Values:
    return payer.values() if payer is not None else {}


def _facts_only(values: Values, existing: Record | None, facts: frozenset[str], key: str) -> Values:
    """New facts plus the matching id, which an assert always needs."""
    return {key: values[key], **new_facts(values, existing, facts)}


def _subject(event: WebhookEvent, name: str) -> Any:
    subject = getattr(event.payload, name, None)
    if subject is None:
        raise MalformedPayloadError(f"Braintree {event.event_type} notification has no {name}")
    return subject


def _object_id(event: WebhookEvent, subject: Any, name: str) -> str:
    object_id = text(getattr(subject, "id", None))
    if object_id is None:
        raise MalformedPayloadError(f"Braintree {event.event_type} notification's {name} has no id")
    return object_id
