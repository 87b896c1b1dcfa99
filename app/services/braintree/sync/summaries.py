"""The run's billing summaries: every person's and company's, recomputed from what it read.

While the listings are planned, each subscription is kept as its small `Subscription` value
(and its revenue values go into its own write, `plans.py`), each transaction as a `Payment`.
After the records are written, each customer's summary is computed and compared with their
person record as the index holds it, and only what differs is written; then each company the
run's people are linked to is recomputed over those people (one read of the company, a write
when it differs). So a lost notification heals at the next run.

Payments: a full run in the layout with a `payments` object lists every transaction, so the
summaries need no more reads. Otherwise a customer's transactions are searched (one Braintree
search each) only for customers with a transaction in the window or, without a `payments`
object, for customers whose subscriptions the run had to write; the others keep the payment
values their person record holds (lifetime paid, last payment), since nothing about their
payments was read.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from app.clients.attio import AttioClient
from app.clients.attio.values import Record, Values, first_value, record_id
from app.clients.braintree import BraintreeClient
from app.log import get_logger
from app.schema.definitions import (
    COMPANIES,
    PEOPLE,
    PEOPLE_OBJECT,
    SUBSCRIPTIONS_OBJECT,
)
from app.services.braintree.billing_catalogue import BillingCatalogue, Catalogue
from app.services.braintree.companies import company_changes
from app.services.braintree.revenue import Subscription, SubscriptionRevenue, subscription_revenue
from app.services.braintree.summary import (
    Payment,
    PersonSummary,
    changed_values,
    summarize_person,
)
from app.services.braintree.sync.index import BillingIndex, held
from app.services.braintree.sync.report import PlannedChange
from app.services.braintree.transforms import transaction_payer
from app.services.fx import Converter
from app.services.syncpipeline import SyncCounts

log = get_logger(__name__)

PERSON_KIND = "summary"  # the counts' group of person summaries
COMPANY_KIND = "company"


@dataclass
class Summaries:
    """What a run gathers for the summaries, and the phase that writes them."""

    attio: AttioClient
    braintree: BraintreeClient
    billing: BillingCatalogue
    rates: Converter
    reporting_currency: str
    index: BillingIndex
    counts: SyncCounts
    complete_payments: bool  # every transaction of every customer is listed
    search_all: bool  # no transaction is listed, and every customer is summed (a full run)
    catalogue: Catalogue = field(default_factory=lambda: Catalogue({}, {}))
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    customer_of: dict[str, str] = field(default_factory=dict)  # subscription id -> customer
    revenues: dict[str, SubscriptionRevenue] = field(default_factory=dict)
    payments: dict[str, list[Payment]] = field(default_factory=lambda: defaultdict(list))
    search: set[str] = field(default_factory=set)  # customers whose transactions are searched
    problems: list[str] = field(default_factory=list)
    # Each person's summary as computed (a dry run writes none), by person record id.
    computed: dict[str, PersonSummary] = field(default_factory=dict)

    async def start(self) -> None:
        self.catalogue = await self.billing.catalogue()

    # -- while planning ---------------------------------------------------------------------

    def observe(self, kind: str, obj: Any) -> None:
        if kind == "subscription":
            subscription = Subscription.from_sdk(obj, self.catalogue.currencies)
            self.subscriptions[subscription.id] = subscription
            self.revenues[subscription.id] = subscription_revenue(
                subscription,
                self.catalogue.plans,
                today=self.now.date(),
                reporting_currency=self.reporting_currency,
                rates=self.rates,
            )
            if customer := _payer_of(obj):
                self.customer_of[subscription.id] = customer
        elif kind == "transaction":
            payer = transaction_payer(obj)
            if payer is not None and payer.customer_id:
                self.payments[payer.customer_id].append(Payment.from_sdk(obj))
                if not self.complete_payments:
                    self.search.add(payer.customer_id)

    def revenue_values(self, subscription_id: str, existing: Record | None) -> Values:
        """The subscription's revenue values its record lacks (nothing: no write)."""
        revenue = self.revenues.get(subscription_id)
        if revenue is None:
            return {}
        return changed_values(SUBSCRIPTIONS_OBJECT, existing, revenue.attio_values())

    def written_subscription(self, customer_id: str | None) -> None:
        """A subscription the run wrote (without a `payments` object, its newest payment may
        have changed): its customer's transactions are searched."""
        if customer_id and not self.complete_payments:
            self.search.add(customer_id)

    # -- after the writes -------------------------------------------------------------------

    def _by_customer(self) -> dict[str, list[Subscription]]:
        found: dict[str, list[Subscription]] = defaultdict(list)
        for subscription_id, subscription in self.subscriptions.items():
            held = self.index.subscriptions.get(subscription_id)
            customer = self.customer_of.get(subscription_id) or (
                first_value(held, "braintree_customer_id") if held else None
            )
            if customer:
                found[str(customer)].append(subscription)
        for customer in self.payments:
            found.setdefault(customer, [])
        return found

    async def person_summary(
        self, customer_id: str, subscriptions: list[Subscription], person: Record
    ) -> PersonSummary:
        searched = self.search_all or customer_id in self.search
        if searched and not self.complete_payments:
            found = await self.braintree.customer_transactions(customer_id)
            payments = [Payment.from_sdk(t) for t in found]
        else:
            payments = self.payments.get(customer_id, [])
        summary, _revenues = summarize_person(
            subscriptions,
            payments,
            self.catalogue.plans,
            today=self.now.date(),
            reporting_currency=self.reporting_currency,
            rates=self.rates,
        )
        if self.complete_payments or searched:
            return summary
        held = PersonSummary.from_record(person)  # nothing of their payments was read
        return replace(
            summary,
            lifetime_paid=held.lifetime_paid,
            last_payment_at=held.last_payment_at,
            last_payment_status=held.last_payment_status,
            customer_since=held.customer_since or summary.customer_since,
        )

    async def run(
        self,
        *,
        dry_run: bool,
        plan: list[PlannedChange],
        concurrency: int,
        hold: Callable[[str], Any],
    ) -> None:
        """Write every person's summary that differs, then every company's."""
        gate = asyncio.Semaphore(max(1, concurrency))
        companies: set[str] = set()

        async def one(customer_id: str, subscriptions: list[Subscription]) -> None:
            async with gate:
                person = self.index.people.by_customer.get(customer_id)
                if person is None:  # made on the way by the payer lookup: one read
                    found = await self.attio.find_record(
                        PEOPLE, "braintree_customer_id", customer_id
                    )
                    if found is None:
                        return  # a customer without email: the subscriptions keep the id
                    person = held(PEOPLE, found)
                    self.index.people.add(person)
                try:
                    summary = await self.person_summary(customer_id, subscriptions, person)
                except Exception as exc:
                    self.counts.of(PERSON_KIND).failed += 1
                    log.warning(
                        "braintree.sync.summary_failed", customer_id=customer_id, error=repr(exc)
                    )
                    return
                self.problems.extend(summary.problems)
                self.computed[record_id(person)] = summary
                changes = changed_values(
                    PEOPLE_OBJECT, person, summary.attio_values(updated_at=self.now)
                )
                if company := first_value(person, "company"):
                    companies.add(str(company))
                if not changes:
                    self.counts.of(PERSON_KIND).unchanged += 1
                    return
                if dry_run:
                    plan.append(PlannedChange(PEOPLE, customer_id, False, tuple(sorted(changes))))
                    self.counts.of(PERSON_KIND).updated += 1
                    return
                async with hold(f"{PEOPLE}:{customer_id}"):
                    written = await self.attio.update_record(PEOPLE, record_id(person), changes)
                self.index.people.add(held(PEOPLE, written))
                if company := first_value(written, "company"):
                    companies.add(str(company))
                self.counts.of(PERSON_KIND).updated += 1

        await _all(one(c, s) for c, s in self._by_customer().items())
        await self._companies(companies, dry_run=dry_run, plan=plan, gate=gate)
        if self.problems:
            log.warning("braintree.sync.summary_incomplete", problems=self.problems[:50])

    async def _companies(
        self, company_ids: set[str], *, dry_run: bool, plan: list[PlannedChange], gate: Any
    ) -> None:
        # Companies showing a summary: one whose last customer moved away is emptied too.
        shown = {"billing_status": {"$not_empty": True}}
        async for record in self.attio.iter_records(COMPANIES, filter=shown):
            company_ids.add(record_id(record))
        members: dict[str, list[PersonSummary]] = defaultdict(list)
        for person in self.index.people.by_customer.values():
            if (company := first_value(person, "company")) in company_ids:
                summary = self.computed.get(record_id(person))
                members[str(company)].append(summary or PersonSummary.from_record(person))

        async def one(company_id: str) -> None:
            async with gate:
                try:
                    _company, changes = await company_changes(
                        self.attio, company_id, people=members.get(company_id, [])
                    )
                    if not changes:
                        self.counts.of(COMPANY_KIND).unchanged += 1
                        return
                    if dry_run:
                        plan.append(
                            PlannedChange(COMPANIES, company_id, False, tuple(sorted(changes)))
                        )
                    else:
                        await self.attio.update_record(COMPANIES, company_id, changes)
                    self.counts.of(COMPANY_KIND).updated += 1
                except Exception as exc:
                    self.counts.of(COMPANY_KIND).failed += 1
                    log.warning(
                        "braintree.sync.company_failed", company_id=company_id, error=repr(exc)
                    )

        await _all(one(c) for c in sorted(company_ids))


async def _all(calls: Iterable[Awaitable[None]]) -> None:
    await asyncio.gather(*calls)


def _payer_of(subscription: Any) -> str | None:
    for transaction in getattr(subscription, "transactions", None) or []:
        payer = transaction_payer(transaction)
        if payer is not None and payer.customer_id:
            return payer.customer_id
    return None
