"""What a Braintree object needs written to bring its Attio record in step (an `Op`), or nothing.

Each object's values come from the webhook path's transforms and follow its ordering rules:
the object's own `updated_at` is its clock, so a record a webhook stamped later than the run's
snapshot takes only the facts it lacks. An op computes its write from a record twice: against
the index while planning (does it need a write at all?) and against the record read again under
its lock just before writing.

Disputes are folded into the write of the record they touch (a payment, or without a `payments`
object the subscription whose latest payment was disputed), so a record costs one write.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.clients.attio.values import Record, Values, changed_slugs, first_value, reference
from app.clients.braintree import BraintreeClient
from app.schema.definitions import (
    DISPUTE_STAMP,
    PAYMENT_KEY,
    PAYMENTS,
    SUBSCRIPTION_KEY,
    SUBSCRIPTIONS,
)
from app.services.braintree.catalogue import ServiceCatalogue
from app.services.braintree.ordering import (
    STAMPS,
    is_stale,
    latest_payment,
    new_facts,
    open_dispute,
)
from app.services.braintree.people import PersonLink, nobody
from app.services.braintree.sync.index import BillingIndex
from app.services.braintree.sync.links import Links
from app.services.braintree.sync.summaries import Summaries
from app.services.braintree.transforms import (
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
    transaction_payer,
)
from app.services.syncpipeline import SyncCounts

SYNC_KIND = "sync"  # `last_event_kind` of a record the sync wrote
LinksOf = Callable[[Record | None], Awaitable[Values]]


def updated_at(obj: Any) -> datetime | None:
    """The object's own clock (the SDK's naive UTC made aware)."""
    moment = getattr(obj, "updated_at", None)
    if not isinstance(moment, datetime):
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def dispute_kind(dispute: Any) -> str:
    """The notification kind matching a dispute's status (`dispute_won`, ...)."""
    status = text(getattr(dispute, "status", None)) or "open"
    return "dispute_opened" if status == "open" else f"dispute_{status}"


def differing(values: Values, existing: Record | None) -> Values:
    """`values` when any of them (stamps aside) differs from `existing`, else nothing."""
    return values if changed_slugs(values, existing, ignore=STAMPS) else {}


def state_part(
    values: Values,
    existing: Record | None,
    moment: datetime | None,
    *,
    key: str,
    facts: frozenset[str],
    stamp: str = "last_event_at",
) -> Values:
    """What a snapshot taken at `moment` writes over `existing`, by the webhook path's rule.

    Newer than the record's stamp (or no stamp yet): the state, stamped, if it differs.
    Older: only the facts Attio lacks (never a state change over newer state).
    """
    if is_stale(existing, moment, stamp):
        return new_facts(values, existing, facts)
    if not changed_slugs(values, existing, ignore=STAMPS):
        return {}
    stamped = dict(values)
    when = timestamp(moment)
    if stamp == "last_event_at":
        stamped |= event_stamp(SYNC_KIND, moment)
    elif when is not None:
        stamped[stamp] = when
    return stamped


@dataclass
class Op:
    """One record to bring in step: its object, key, and how to compute its write."""

    kind: str  # subscription | transaction | dispute (the Braintree object, for the ledger)
    object_id: str
    obj: str  # the Attio object written
    key: str  # the unique key's value
    state: Callable[[Record | None], Values]  # pure: the write's state part
    links: LinksOf | None  # the person / subscription references (may need I/O)
    moment: datetime | None  # the object's clock
    planned: tuple[str, ...]
    create: bool


class Planner:
    def __init__(
        self,
        index: BillingIndex,
        links: Links,
        catalogue: ServiceCatalogue,
        braintree: BraintreeClient,
        counts: SyncCounts,
        *,
        payments_object: bool,
    ) -> None:
        self.index = index
        self.links = links
        self.catalogue = catalogue
        self.braintree = braintree
        self.counts = counts
        self.payments_object = payments_object
        # Disputes waiting for the listing that brings their record, by transaction id.
        self.disputes_by_tx: dict[str, Any] = {}
        self.summaries: Summaries | None = None  # the run's: each subscription's revenue

    def hold_dispute(self, dispute: Any) -> bool:
        """While the listings that carry its record are still to come, keep the dispute for
        that record's write (one write per record). False when another dispute of the same
        transaction is held already: this one is written alone."""
        transaction_id = text(getattr(getattr(dispute, "transaction", None), "id", None))
        if transaction_id is None or transaction_id in self.disputes_by_tx:
            return False
        self.disputes_by_tx[transaction_id] = dispute
        return True

    def held_disputes(self) -> list[Any]:
        """Disputes whose record no listing brought: each a write of its own."""
        disputes = list(self.disputes_by_tx.values())
        self.disputes_by_tx.clear()
        return disputes

    async def op_for(self, kind: str, obj: Any) -> Op | None:
        """The write `obj` needs against the index (None: in step already)."""
        if kind == "subscription":
            return await self._subscription_op(obj)
        if kind == "transaction":
            if not self.payments_object:
                return self._folded_payment_op(obj)
            return self._payment_op(obj)
        if not self.payments_object:
            return await self._folded_dispute_op(obj)
        return self._dispute_op(obj)

    # -- subscriptions ------------------------------------------------------------------------

    async def _subscription_op(self, subscription: Any) -> Op | None:
        subscription_id = text(getattr(subscription, "id", None))
        if subscription_id is None:
            raise ValueError("a Braintree subscription without an id")
        moment = updated_at(subscription)
        base = subscription_values(subscription)
        plan_id = text(getattr(subscription, "plan_id", None))
        service = await self.catalogue.service_for(plan_id) if plan_id else None
        payer = subscription_payer(subscription)
        newest = newest_transaction(subscription)
        disputes: list[Any] = []
        if not self.payments_object:
            tx_ids = {
                text(getattr(t, "id", None))
                for t in getattr(subscription, "transactions", None) or []
            }
            disputes = [
                self.disputes_by_tx.pop(t) for t in list(self.disputes_by_tx) if t in tx_ids
            ]

        # Taken from the SDK objects now: a queued write holds these values, not the objects
        # (a subscription lists up to 20 full transactions).
        folded: tuple[Values, datetime | None] | None = None
        if newest is not None and not self.payments_object:
            folded = (payment_values(newest, SYNC_KIND, updated_at(newest)), updated_at(newest))
        dispute_states = [(dispute_values(d, dispute_kind(d)), updated_at(d)) for d in disputes]
        discover = self.links.discover_by_method(subscription)
        summaries = self.summaries

        def state(existing: Record | None) -> Values:
            values = state_part(
                {**base, **_service_values(service, plan_id, existing)},
                existing,
                moment,
                key=SUBSCRIPTION_KEY,
                facts=SUBSCRIPTION_FACTS,
            )
            if folded is not None:
                payment, paid_at = folded
                values |= differing(latest_payment(existing, payment, paid_at), existing)
            for dispute_state, disputed_at in dispute_states:
                values |= differing(open_dispute(existing, dispute_state, disputed_at), existing)
            if summaries is not None:  # Braintree's current state: no stamp of its own
                values |= summaries.revenue_values(subscription_id, existing)
            return values

        async def links(existing: Record | None) -> Values:
            stale = is_stale(existing, moment)
            link = await self.links.person(payer, existing, stale, discover)
            facts = new_facts(link, existing, SUBSCRIPTION_FACTS) if stale else link
            return differing(facts, existing)

        existing = self.index.subscriptions.get(subscription_id)
        token = getattr(subscription, "payment_method_token", None)
        return self._op(
            "subscription",
            subscription_id,
            SUBSCRIPTIONS,
            subscription_id,
            state,
            links,
            moment,
            existing,
            needs_link=_needs_link(payer, existing, token),
        )

    # -- payments -----------------------------------------------------------------------------

    def _payment_op(self, transaction: Any) -> Op | None:
        transaction_id = text(getattr(transaction, "id", None))
        if transaction_id is None:
            raise ValueError("a Braintree transaction without an id")
        dispute = self.disputes_by_tx.pop(transaction_id, None)
        moment = updated_at(transaction)
        base = payment_values(transaction, SYNC_KIND, moment)
        payer = transaction_payer(transaction)
        subscription_id = text(getattr(transaction, "subscription_id", None))

        def state(existing: Record | None) -> Values:
            values = state_part(base, existing, moment, key=PAYMENT_KEY, facts=PAYMENT_FACTS)
            if dispute is not None:
                values |= _dispute_part(dispute, existing)
            return values

        async def links(existing: Record | None) -> Values:
            stale = is_stale(existing, moment)
            link = await self.links.person(payer, existing, stale, nobody)
            if subscription_id is not None and (
                existing is None or first_value(existing, "subscription") is None
            ):
                link |= await self.links.subscription(subscription_id)
            facts = new_facts(link, existing, PAYMENT_FACTS) if stale else link
            return differing(facts, existing)

        existing = self.index.payments.get(transaction_id)
        needs = _needs_link(payer, existing, None) or (
            subscription_id is not None
            and (existing is None or first_value(existing, "subscription") is None)
        )
        return self._op(
            "transaction",
            transaction_id,
            PAYMENTS,
            transaction_id,
            state,
            links,
            moment,
            existing,
            needs_link=needs,
        )

    def _dispute_op(self, dispute: Any) -> Op | None:
        transaction_id = text(getattr(getattr(dispute, "transaction", None), "id", None))
        dispute_id = text(getattr(dispute, "id", None)) or "unknown"
        if transaction_id is None:
            raise ValueError("a Braintree dispute naming no transaction")

        def state(existing: Record | None) -> Values:
            return _dispute_part(dispute, existing)

        return self._op(
            "dispute",
            dispute_id,
            PAYMENTS,
            transaction_id,
            state,
            None,
            updated_at(dispute),
            self.index.payments.get(transaction_id),
        )

    # -- without a payments object ------------------------------------------------------------

    def _folded_payment_op(self, transaction: Any) -> Op | None:
        transaction_id = text(getattr(transaction, "id", None)) or "unknown"
        subscription_id = text(getattr(transaction, "subscription_id", None))
        if subscription_id is None:
            self.counts.note("unplaced")
            return None
        moment = updated_at(transaction)
        payment = payment_values(transaction, SYNC_KIND, moment)

        def state(existing: Record | None) -> Values:
            return differing(latest_payment(existing, payment, moment), existing)

        return self._op(
            "transaction",
            transaction_id,
            SUBSCRIPTIONS,
            subscription_id,
            state,
            None,
            moment,
            self.index.subscriptions.get(subscription_id),
        )

    async def _folded_dispute_op(self, dispute: Any) -> Op | None:
        dispute_id = text(getattr(dispute, "id", None)) or "unknown"
        details = getattr(dispute, "transaction", None)
        transaction_id = text(getattr(details, "id", None))
        subscription_id = text(getattr(details, "payment_instrument_subscription_id", None))
        if subscription_id is None and transaction_id is not None:
            subscription_id = next(
                (
                    key
                    for key, record in self.index.subscriptions.items()
                    if first_value(record, "last_payment_id") == transaction_id
                ),
                None,
            )
        if subscription_id is None and transaction_id is not None:
            transaction = await self.braintree.find_transaction(transaction_id)
            subscription_id = (
                text(getattr(transaction, "subscription_id", None)) if transaction else None
            )
        if subscription_id is None:
            self.counts.note("unplaced")
            return None
        state = dispute_values(dispute, dispute_kind(dispute))
        moment = updated_at(dispute)

        def dispute_state(existing: Record | None) -> Values:
            return differing(open_dispute(existing, state, moment), existing)

        return self._op(
            "dispute",
            dispute_id,
            SUBSCRIPTIONS,
            subscription_id,
            dispute_state,
            None,
            moment,
            self.index.subscriptions.get(subscription_id),
        )

    # -- shared -------------------------------------------------------------------------------

    def _op(
        self,
        kind: str,
        object_id: str,
        obj: str,
        key: str,
        state: Callable[[Record | None], Values],
        links: LinksOf | None,
        moment: datetime | None,
        existing: Record | None,
        *,
        needs_link: bool = False,
    ) -> Op | None:
        """An op when the record (as indexed) needs a write; None when it is in step.

        The index check computes the state part only; the links (which may need Attio or
        Braintree) are looked at only when `needs_link` says the record lacks them."""
        preview = state(existing)
        if not preview and not needs_link:
            self.counts.of(kind).unchanged += 1
            if is_stale(existing, moment):
                self.counts.note("stale")
            return None
        changed = changed_slugs(preview, existing, ignore=STAMPS) or ("person",)
        return Op(kind, object_id, obj, key, state, links, moment, changed, existing is None)


def _dispute_part(dispute: Any, existing: Record | None) -> Values:
    """The webhook path's dispute write: gaps of the payment filled, the dispute's state on its
    own clock."""
    facts = disputed_payment_values(dispute)
    facts.pop(PAYMENT_KEY, None)
    values = new_facts(facts, existing, PAYMENT_FACTS)
    state = dispute_values(dispute, dispute_kind(dispute))
    values |= state_part(
        state,
        existing,
        updated_at(dispute),
        key=PAYMENT_KEY,
        facts=PAYMENT_FACTS,
        stamp=DISPUTE_STAMP,
    )
    return values


def _service_values(service: str | None, plan_id: str | None, existing: Record | None) -> Values:
    """The webhook path's service link: the plan's service, cleared for a plan without one."""
    if plan_id is None:
        return {}
    if service is not None:
        return {"service": reference("services", service)}
    linked = first_value(existing, "service") if existing is not None else None
    return {"service": []} if linked is not None else {}


def _needs_link(payer: Payer | None, existing: Record | None, token: Any) -> bool:
    """Whether the record lacks a person link the payer (or a payment method) can give."""
    if existing is None:
        return payer is not None or bool(token)
    known = PersonLink.of(existing)
    if known is None:
        return payer is not None or bool(token)
    if known.record_id is None:
        return payer is not None and payer.email is not None
    return payer is not None and payer.customer_id not in (None, known.customer_id)
