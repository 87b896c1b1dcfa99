"""Plans and merchant-account currencies, read through the SDK and cached for the process.

A subscription's billing frequency lives on its plan and its currency on its merchant
account, and both change rarely: one read of each every `ttl` seconds serves every
notification. A plan id the cache does not know triggers one early re-read (a plan created
since), at most once per `retry_after` seconds, so a subscription on a plan Braintree no longer
lists costs no read per event; its MRR stays unset, with the reason.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from app.clients.braintree import BraintreeClient
from app.log import get_logger
from app.services.braintree.revenue import Plan, Subscription, SubscriptionRevenue, plans_by_id
from app.services.braintree.summary import Payment, PersonSummary, summarize_person
from app.services.fx import Converter

log = get_logger(__name__)


def subscriptions_of(customer: Any) -> list[Any]:
    """A customer's subscriptions, from `customer.find`'s answer: Braintree lists them under
    the customer's payment methods (it has no subscription search by customer)."""
    methods = getattr(customer, "payment_methods", None) or []
    return [s for method in methods for s in getattr(method, "subscriptions", None) or []]


@dataclass(frozen=True)
class Catalogue:
    plans: dict[str, Plan]
    currencies: dict[str, str]  # merchant account id -> currency


class BillingCatalogue:
    def __init__(
        self,
        braintree: BraintreeClient,
        *,
        ttl: float = 900.0,
        retry_after: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._braintree = braintree
        self._ttl = ttl
        self._retry_after = retry_after
        self._clock = clock
        self._catalogue = Catalogue({}, {})
        self._loaded_at = float("-inf")
        self._lock = asyncio.Lock()

    async def catalogue(self, plan_ids: Iterable[str | None] = ()) -> Catalogue:
        """The cached catalogue, read again when stale or when it lacks one of `plan_ids`."""
        async with self._lock:  # concurrent events wait for one read instead of each reading
            age = self._clock() - self._loaded_at
            unknown = {p for p in plan_ids if p and p not in self._catalogue.plans}
            if age >= self._ttl or (unknown and age >= self._retry_after):
                plans = plans_by_id(await self._braintree.list_plans())
                currencies = await self._braintree.merchant_account_currencies()
                self._catalogue = Catalogue(plans, currencies)
                self._loaded_at = self._clock()
                if missing := sorted(unknown - set(plans)):
                    log.warning("braintree.plan.unknown", plan_ids=missing)
            return self._catalogue

    async def summarize(
        self,
        subscriptions: Iterable[Any],
        transactions: Iterable[Any],
        *,
        today: date,
        reporting_currency: str,
        rates: Converter,
    ) -> tuple[PersonSummary, list[SubscriptionRevenue]]:
        """A customer's summary from the SDK's subscriptions and transactions of them."""
        subscriptions = list(subscriptions)
        catalogue = await self.catalogue(getattr(s, "plan_id", None) for s in subscriptions)
        return summarize_person(
            [Subscription.from_sdk(s, catalogue.currencies) for s in subscriptions],
            [Payment.from_sdk(t) for t in transactions],
            catalogue.plans,
            today=today,
            reporting_currency=reporting_currency,
            rates=rates,
        )
