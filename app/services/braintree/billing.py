"""A customer's billing summary, recomputed from Braintree for every notification about them.

Each subscription, transaction or dispute notification recomputes its payer's summary from
Braintree's current state (never incremented, so a redelivery, a replay or an out-of-order
notification cannot count twice). The cost per notification: two Braintree reads,
`customer.find` (which embeds the customer's subscriptions with their newest transactions) and
one transaction search by customer id (its ids, then the transactions in pages of 50); plans and
merchant-account currencies come from the cached `BillingCatalogue`.

The person's values go into the person's own write (`PayerResolver` adds them), or, when the
notification writes no person, into one update of their record, only when something changed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from app.clients.attio import AttioClient
from app.clients.attio.values import Record, Values, first_value, record_id
from app.clients.braintree import BraintreeClient
from app.events.ledger import Ledger
from app.events.model import WebhookEvent
from app.log import get_logger
from app.schema.definitions import PEOPLE, PEOPLE_OBJECT, SUBSCRIPTIONS, SUBSCRIPTIONS_OBJECT
from app.services.braintree.billing_catalogue import BillingCatalogue, subscriptions_of
from app.services.braintree.companies import CompanyRollup
from app.services.braintree.revenue import SubscriptionRevenue
from app.services.braintree.summary import PersonSummary, changed_values
from app.services.fx import Converter, ExchangeRates
from app.services.locks import KeyedLocks

log = get_logger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class CustomerBilling:
    """One customer's summary and their subscriptions' values, computed now."""

    customer_id: str
    summary: PersonSummary
    revenues: dict[str, SubscriptionRevenue] = field(default_factory=dict)
    computed_at: datetime = field(default_factory=utcnow)

    def person_values(self) -> Values:
        return self.summary.attio_values(updated_at=self.computed_at)

    def person_changes(self, person: Record | None) -> Values:
        """What the person record lacks of the summary (nothing: no write)."""
        return changed_values(PEOPLE_OBJECT, person, self.person_values())

    def subscription_values(self, subscription_id: str) -> Values:
        revenue = self.revenues.get(subscription_id)
        return revenue.attio_values() if revenue is not None else {}


class Billing:
    """Summaries for the notification handlers: one per bridge, shared by every event."""

    def __init__(
        self,
        attio: AttioClient,
        braintree: BraintreeClient | None,
        *,
        reporting_currency: str,
        rates: Converter,
        companies: CompanyRollup,
        locks: KeyedLocks,
        ledger: Ledger | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._attio = attio
        self._braintree = braintree
        self.catalogue = BillingCatalogue(braintree) if braintree is not None else None
        self.reporting_currency = reporting_currency
        self.rates = rates
        self.companies = companies
        self._locks = locks
        self._ledger = ledger
        self._clock = clock
        self._rates_ready = False
        self._rates_lock = asyncio.Lock()

    @property
    def rates_loaded(self) -> bool:
        return self._rates_ready

    async def load_rates(self) -> None:
        """ECB's table is read once, off the event loop (it takes a noticeable moment)."""
        if self._rates_ready:
            return
        async with self._rates_lock:
            if not self._rates_ready and isinstance(self.rates, ExchangeRates):
                await asyncio.to_thread(self.rates.table)
            self._rates_ready = True

    async def compute(self, customer_id: str | None) -> CustomerBilling | None:
        """The customer's summary from Braintree now; None without Braintree or the customer."""
        if customer_id is None or self._braintree is None or self.catalogue is None:
            return None
        customer = await self._braintree.find_customer(customer_id)
        if customer is None:
            log.info("braintree.billing.customer_unknown", customer_id=customer_id)
            return None
        transactions = await self._braintree.customer_transactions(customer_id)
        await self.load_rates()
        now = self._clock()
        summary, revenues = await self.catalogue.summarize(
            subscriptions_of(customer),
            transactions,
            today=now.date(),
            reporting_currency=self.reporting_currency,
            rates=self.rates,
        )
        if summary.problems:
            # A value the bridge cannot compute stays unset; the reasons go to the ledger.
            log.warning(
                "braintree.billing.incomplete",
                customer_id=customer_id,
                problems=list(summary.problems),
            )
        by_id = {r.subscription_id: r for r in revenues}
        return CustomerBilling(customer_id, summary, by_id, now)

    async def report_problems(self, event: WebhookEvent, billing: CustomerBilling) -> None:
        """A value left unset (a plan the bridge could not read, a currency without a rate)
        is said in the ledger: the event was applied, but an operator should look."""
        if billing.summary.problems and self._ledger is not None:
            reason = "billing summary incomplete: " + "; ".join(billing.summary.problems)
            await self._ledger.record_attention(event, reason)

    async def settle_person(
        self,
        billing: CustomerBilling,
        person_id: str | None,
        *,
        record: Record | None,
        before: Record | None = None,
        summarized: bool = False,
        written: bool = False,
    ) -> None:
        """Bring the person's summary in step and recompute their companies (the one they
        were in and the one they are in now). `summarized`: the person's own write (or its
        check) already carried the summary; `record` is the person as last read or written
        (None: read it now)."""
        if person_id is None:
            return
        if summarized:
            if written:
                await self.companies.changed(company_of(before), company_of(record))
            return
        person = record if record is not None else await self._attio.get_record(PEOPLE, person_id)
        changes = billing.person_changes(person)
        if changes:
            after = await self._attio.update_record(PEOPLE, person_id, changes)
            await self.companies.changed(company_of(person), company_of(after))

    async def other_subscriptions(self, billing: CustomerBilling, written: str | None) -> int:
        """The customer's other subscriptions in Attio whose values no longer hold (a plan's
        price, a cancellation seen first on another subscription): one read, and one write per
        subscription that differs. Returns the writes."""
        others = {sid for sid in billing.revenues if sid != written}
        if not others:
            return 0
        filter = {"braintree_customer_id": billing.customer_id}
        writes = 0
        async for record in self._attio.iter_records(SUBSCRIPTIONS, filter=filter):
            subscription_id = first_value(record, "braintree_subscription_id")
            if subscription_id not in others:
                continue
            changes = changed_values(
                SUBSCRIPTIONS_OBJECT, record, billing.subscription_values(subscription_id)
            )
            if changes:
                async with self._locks.hold(f"{SUBSCRIPTIONS}:{subscription_id}"):
                    await self._attio.update_record(SUBSCRIPTIONS, record_id(record), changes)
                writes += 1
        return writes


def company_of(person: Record | None) -> str | None:
    """The company Attio links `person` to (by e-mail domain, or set by hand)."""
    value = first_value(person, "company") if person is not None else None
    return str(value) if value else None
