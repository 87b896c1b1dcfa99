"""The references a run's writes carry: the paying person and a payment's subscription.

Found as the webhook path finds them (`people.PayerResolver`), but from the run's index first:
a person is written only when Attio's differs, and at most once per run however many records
name them; a payment whose subscription is still being created waits for that write rather
than creating it a second time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from app.clients.attio import AttioClient
from app.clients.attio.values import Record, Values, changed_slugs, record_id, reference
from app.clients.braintree import BraintreeClient
from app.log import get_logger
from app.schema.definitions import PEOPLE, SUBSCRIPTION_KEY, SUBSCRIPTIONS
from app.services.braintree.billing import CustomerBilling
from app.services.braintree.people import Discover, PayerResolver, PersonLink
from app.services.braintree.sync.index import BillingIndex, held
from app.services.braintree.transforms import Payer, person_values, text
from app.services.syncpipeline import SyncCounts

log = get_logger(__name__)

# A customer's billing summary from Braintree now (the webhook path's `Billing.compute`).
Summarize = Callable[[str], Awaitable[CustomerBilling | None]]


class Links:
    def __init__(
        self,
        attio: AttioClient,
        braintree: BraintreeClient,
        index: BillingIndex,
        counts: SyncCounts,
        *,
        summarize: Summarize | None = None,
    ) -> None:
        self._attio = attio
        self._braintree = braintree
        self._index = index
        self._counts = counts
        self._summarize = summarize
        self.resolver = PayerResolver(attio, braintree)
        self._person_writes: dict[str, asyncio.Future[PersonLink]] = {}
        # Subscriptions a queued write creates: their record id once it is written.
        self._pending_subscriptions: dict[str, asyncio.Future[str | None]] = {}

    # -- the paying person ---------------------------------------------------------------------

    async def person(
        self, payer: Payer | None, existing: Record | None, stale: bool, discover: Discover
    ) -> Values:
        """The person link of `existing`'s write, writing a person only when Attio's differs
        (once per person per run)."""
        known = PersonLink.of(existing)
        if (
            known is not None
            and known.record_id
            and (payer is None or stale or payer.customer_id in (None, known.customer_id))
        ):
            return {}
        if payer is None and (known is None or not known.customer_id):
            payer = await discover()
        elif payer is None and known is not None:
            payer = Payer(known.customer_id)
        if payer is None:
            return {}
        people = self._index.people
        if payer.email is None and payer.customer_id:
            person = people.by_customer.get(payer.customer_id)
            if person is not None:
                return PersonLink(record_id(person), payer.customer_id).values()
            # Not in the index: no person holds the customer id yet, so one will be written.
            billing = await self._summary(payer.customer_id)
            link = await self.resolver.resolve(payer, known=known, stale=stale, billing=billing)
            if link is not None and link.written and link.record is not None:
                self._index.people.add(held(PEOPLE, link.record))
            return link.values() if link is not None else {}
        if payer.email is None:
            return {}
        person = people.by_email.get(payer.email.lower())
        if person is not None and not changed_slugs(person_values(payer), person):
            return PersonLink(record_id(person), payer.customer_id).values()
        return (await self._person_write(payer)).values()

    async def _person_write(self, payer: Payer) -> PersonLink:
        assert payer.email is not None
        address = payer.email.lower()
        pending = self._person_writes.get(address)
        if pending is None:
            pending = asyncio.get_running_loop().create_future()
            self._person_writes[address] = pending
            try:
                billing = await self._summary(payer.customer_id)
                link = await self.resolver.assert_person(payer, billing)
                if link.record is not None:  # its summary and company, for the run's summaries
                    self._index.people.add(held(PEOPLE, link.record))
            except BaseException as exc:
                del self._person_writes[address]
                pending.set_exception(exc)
                pending.exception()  # retrieved: the caller raises it
                raise
            self._counts.of("person").updated += 1
            pending.set_result(link)
        return await pending

    async def _summary(self, customer_id: str | None) -> CustomerBilling | None:
        """The summary for the person's write, so a backfill writes each person once (two
        Braintree reads instead of a second Attio write). Without it the run's summaries
        write it later."""
        if self._summarize is None or customer_id is None:
            return None
        try:
            return await self._summarize(customer_id)
        except Exception as exc:
            log.warning("braintree.sync.summary_deferred", customer_id=customer_id, error=repr(exc))
            return None

    def discover_by_method(self, subscription: Any) -> Discover:
        """A subscription names no customer, but its payment method belongs to one."""
        token = text(getattr(subscription, "payment_method_token", None))

        async def discover() -> Payer | None:
            if token is None:
                return None
            customer_id = await self._braintree.customer_id_for_payment_method(token)
            return Payer(customer_id=customer_id) if customer_id else None

        return discover

    # -- a payment's subscription -------------------------------------------------------------

    def expect_subscription(self, subscription_id: str) -> None:
        """A queued write creates this subscription: its payments wait for it."""
        self._pending_subscriptions[subscription_id] = asyncio.get_running_loop().create_future()

    def subscription_settled(self, subscription_id: str) -> None:
        """The subscription's write is over (written or failed): release who waits for it."""
        pending = self._pending_subscriptions.pop(subscription_id, None)
        if pending is not None and not pending.done():
            record = self._index.subscriptions.get(subscription_id)
            pending.set_result(record_id(record) if record is not None else None)

    async def subscription(self, subscription_id: str) -> Values:
        record = self._index.subscriptions.get(subscription_id)
        if record is not None:
            return {"subscription": reference(SUBSCRIPTIONS, record_id(record))}
        pending = self._pending_subscriptions.get(subscription_id)
        if pending is not None:
            found = await asyncio.shield(pending)
            if found is not None:
                return {"subscription": reference(SUBSCRIPTIONS, found)}
        # Not listed by Braintree yet: its id alone, as the webhook path links it.
        created = await self._attio.assert_record(
            SUBSCRIPTIONS,
            matching_attribute=SUBSCRIPTION_KEY,
            values={SUBSCRIPTION_KEY: subscription_id},
        )
        self._index.keep(SUBSCRIPTIONS, subscription_id, created)
        return {"subscription": reference(SUBSCRIPTIONS, record_id(created))}
