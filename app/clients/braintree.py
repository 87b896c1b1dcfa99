"""Async access to the few Braintree API calls the bridge makes.

Subscription and dispute notifications carry no customer, so when Attio does not know the payer
either, the customer is fetched from Braintree; CRM edits of a paying person update the
customer. The SDK is synchronous (`requests`), so every call runs in a worker thread;
`abandon_on_cancel` lets the processing budget end the wait even though the thread itself
finishes in the background (bounded by the SDK timeout).

"Not found" on a read is an answer (None). A change Braintree refuses is
`BraintreeRejectedError` (permanent); every other SDK error propagates, so the event goes to the
ledger and is retried.

The reconciliation reads whole collections through the SDK's searches (`iter_*`). They run on a
second gateway whose per-request timeout suits a search rather than one event's budget, and
they hand back one page at a time, so a run holds at most a page of SDK objects (plus ids).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import chain, islice
from typing import Any, TypeVar

import anyio.to_thread
import braintree
from braintree.dispute_gateway import DisputeGateway
from braintree.exceptions.gateway_timeout_error import GatewayTimeoutError
from braintree.exceptions.http.connection_error import ConnectionError as SdkConnectionError
from braintree.exceptions.http.timeout_error import TimeoutError as SdkTimeoutError
from braintree.exceptions.not_found_error import NotFoundError
from braintree.exceptions.request_timeout_error import RequestTimeoutError
from braintree.exceptions.server_error import ServerError
from braintree.exceptions.service_unavailable_error import ServiceUnavailableError
from braintree.exceptions.too_many_requests_error import TooManyRequestsError
from braintree.util.constants import Constants
from tenacity import AsyncRetrying, wait_incrementing

from app.clients.retrying import retrying
from app.config import Settings
from app.errors import BridgeError
from app.log import get_logger
from app.timing import add_wait_seconds

log = get_logger(__name__)
T = TypeVar("T")

# Well under the event budget, so a slow Braintree fails the attempt rather than hanging it.
DEFAULT_TIMEOUT_SECONDS = 5.0
# A customer id no merchant has (Braintree ids are at most 36 characters of [A-Za-z0-9_-]).
CREDENTIALS_PROBE_ID = "attio-bridge-credentials-probe"
# A search-ids call on a large account and a page of 50 full objects take far longer than one
# event may wait; a reconciliation has no event budget, only this per-request bound.
SEARCH_TIMEOUT_SECONDS = 60.0
# Braintree's search pages (`page_size` of its search results): the SDK fetches 50 by ids.
SEARCH_PAGE_SIZE = 50
# At most this many ids in one `ids in [...]` search: the request body stays small.
IDS_PER_SEARCH = 1000
# Earlier than any Braintree record: "everything" is a range from here (a search needs a term).
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)

# The timestamps the SDK's transaction search offers for a status change; a search per field
# finds every transaction created or changed in a window (Braintree ANDs terms, no OR).
TRANSACTION_CHANGE_FIELDS = (
    "created_at",
    "authorized_at",
    "submitted_for_settlement_at",
    "settled_at",
    "voided_at",
    "failed_at",
    "processor_declined_at",
    "gateway_rejected_at",
    "authorization_expired_at",
)
# Statuses reached without a searchable timestamp (there is no `settlement_declined_at`
# criterion): found by status among transactions created this long before the window.
UNTIMED_TRANSACTION_STATUSES = (
    "authorizing",
    "settling",
    "settlement_pending",
    "settlement_confirmed",
    "settlement_declined",
    "settlement_failed",
)
UNTIMED_LOOKBACK = timedelta(days=30)
# A search page or search-ids call failing with one of these is tried again (a run should not
# fail on one 429 or 503); four attempts in all, waiting 1 s, 2 s, 3 s between them.
RETRYABLE = (
    TooManyRequestsError,
    ServiceUnavailableError,
    GatewayTimeoutError,
    RequestTimeoutError,
    ServerError,
    SdkConnectionError,
    SdkTimeoutError,
)
SEARCH_ATTEMPTS = 4


class BraintreeRejectedError(BridgeError):
    """Braintree refused a change (a validation error): the same change can never succeed."""

    status_code = 422
    code = "braintree_rejected"


class BraintreeClient:
    """Thin async wrappers around one long-lived SDK gateway (it pools HTTP connections)."""

    def __init__(
        self,
        gateway: braintree.BraintreeGateway,
        search_gateway: braintree.BraintreeGateway | None = None,
        *,
        retry_delay: float = 1.0,
    ) -> None:
        self._gateway = gateway
        self._search_gateway = search_gateway or gateway
        self._retry_delay = retry_delay

    @classmethod
    def from_settings(cls, settings: Settings) -> BraintreeClient | None:
        """A client for the configured merchant, or None when Braintree is not configured."""
        if not settings.braintree_configured:
            return None
        private_key = settings.braintree_private_key

        def gateway(timeout: float) -> braintree.BraintreeGateway:
            config = braintree.Configuration(
                environment=braintree.Environment.parse_environment(settings.braintree_environment),
                merchant_id=settings.braintree_merchant_id,
                public_key=settings.braintree_public_key,
                private_key=private_key.get_secret_value() if private_key else "",
                timeout=timeout,
            )
            return braintree.BraintreeGateway(config)

        return cls(
            gateway(min(DEFAULT_TIMEOUT_SECONDS, settings.event_processing_budget_seconds)),
            gateway(SEARCH_TIMEOUT_SECONDS),
        )

    async def find_customer(self, customer_id: str) -> Any | None:
        """The SDK `Customer` (id, email, first_name, last_name, company, phone), if it exists."""
        return await self._find("customer", self._gateway.customer.find, customer_id)

    async def fetch_customer(self, customer_id: str) -> Any | None:
        """One customer for a reconciliation: on the search gateway (its longer timeout), and
        tried again after a passing error (429, 5xx, timeout) as a search page is."""
        find = self._search_gateway.customer.find
        async for attempt in self._search_retries("customer"):
            with attempt:
                return await self._find("customer", find, customer_id)
        raise AssertionError("unreachable: tenacity reraises the last error")  # pragma: no cover

    async def find_transaction(self, transaction_id: str) -> Any | None:
        """The SDK `Transaction`, whose `customer_details` name the payer, if it exists."""
        return await self._find("transaction", self._gateway.transaction.find, transaction_id)

    async def customer_id_for_payment_method(self, token: str) -> str | None:
        """The customer a vaulted payment method (a subscription's) belongs to."""
        method = await self._find("payment_method", self._gateway.payment_method.find, token)
        customer_id = getattr(method, "customer_id", None) if method is not None else None
        return str(customer_id) if customer_id else None

    async def verify_credentials(self) -> None:
        """One cheap authenticated read: a customer id nobody has answers 404 once the keys are
        accepted; refused keys raise the SDK's `AuthenticationError` (401) or
        `AuthorizationError` (403)."""
        await self.find_customer(CREDENTIALS_PROBE_ID)

    async def update_customer(self, customer_id: str, changes: dict[str, str]) -> None:
        """Change a customer's fields (`first_name`, `email`, ...) as given."""
        result = await self._in_thread(self._gateway.customer.update, customer_id, changes)
        if not getattr(result, "is_success", False):
            # The SDK's message lists the failed validations; it holds no credentials.
            message = getattr(result, "message", "no reason given")
            raise BraintreeRejectedError(f"Braintree refused the customer update: {message}")

    async def find_subscription(self, subscription_id: str) -> Any | None:
        """The SDK `Subscription` (status, price, balance, dates, transactions), if it exists."""
        return await self._find(
            "subscription", self._search_gateway.subscription.find, subscription_id
        )

    async def find_dispute(self, dispute_id: str) -> Any | None:
        """The SDK `Dispute` (status, kind, amount, transaction, status history), if it exists."""
        return await self._find("dispute", self._search_gateway.dispute.find, dispute_id)

    async def customer_transactions(self, customer_id: str) -> list[Any]:
        """Every transaction of one customer (sales and refunds), as SDK `Transaction`s."""

        def read() -> list[Any]:
            term = braintree.TransactionSearch.customer_id == customer_id
            return list(self._search_gateway.transaction.search(term).items)

        return await self._retrying("customer_transactions", read)

    async def list_plans(self) -> list[Any]:
        """Every plan of the merchant, as SDK `Plan`s (`billing_frequency`, add-ons, ...)."""
        return await self._retrying("plans", self._search_gateway.plan.all)

    async def merchant_account_currencies(self) -> dict[str, str]:
        """Merchant account id -> its currency (each account has one), every page read."""

        def read() -> dict[str, str]:
            accounts = self._search_gateway.merchant_account.all().merchant_accounts
            return {str(a.id): str(a.currency_iso_code) for a in accounts.items}

        return await self._retrying("merchant_accounts", read)

    async def iter_subscriptions(self) -> AsyncIterator[list[Any]]:
        """Every subscription of every status, as lists of SDK `Subscription`s (pages of 50).

        One search-ids call, then the SDK's own pages of 50 by ids: the collection's iterator
        is advanced in a worker thread one page at a time, so only a page is held at once."""
        statuses = Constants.get_all_constant_values_from_class(braintree.Subscription.Status)
        search = self._search_gateway.subscription.search
        term = braintree.SubscriptionSearch.status.in_list(statuses)
        collection = await self._retrying("subscriptions", search, term)
        ids_term = braintree.SubscriptionSearch.ids
        async for page in self._id_pages("subscriptions", search, ids_term, collection):
            yield page

    async def count_active_subscriptions(self) -> int:
        """How many subscriptions are Active (one search-ids call, no records fetched)."""
        search = self._search_gateway.subscription.search
        term = braintree.SubscriptionSearch.status.in_list([braintree.Subscription.Status.Active])
        collection = await self._retrying("subscriptions", search, term)
        return len(collection.ids)

    async def iter_transactions(self, since: datetime | None) -> AsyncIterator[list[Any]]:
        """Transactions created or with any status change at/after `since` (None: all).

        Braintree ANDs search terms, so each status-change timestamp is its own search-ids call
        (cheap: ids only); the distinct ids are then fetched in the SDK's pages of 50, so a
        transaction matched by several timestamps is fetched once. Pages hold SDK
        `Transaction`s. Statuses with no searchable timestamp (`settlement_declined`, ...) are
        one more search by status over a 30-day lookback. Braintree answers at most 50,000 ids
        per search: a larger window would need splitting by `created_at`."""
        search = self._search_gateway.transaction.search
        criteria = braintree.TransactionSearch
        if since is None:
            # One search: its own collection pages by ids, without a second ids call.
            collection = await self._retrying(
                "transactions", search, [criteria.created_at >= EPOCH]
            )
            async for page in self._id_pages("transactions", search, criteria.ids, collection):
                yield page
            return
        start = _utc(since)
        terms = [[getattr(criteria, f) >= start] for f in TRANSACTION_CHANGE_FIELDS]
        untimed = criteria.status.in_list(list(UNTIMED_TRANSACTION_STATUSES))
        terms.append([untimed, criteria.created_at >= start - UNTIMED_LOOKBACK])
        seen: dict[str, None] = {}  # insertion-ordered set of ids
        for term in terms:
            collection = await self._retrying("transactions", search, term)
            seen.update(dict.fromkeys(collection.ids))
        async for page in self._id_pages("transactions", search, criteria.ids, list(seen)):
            yield page

    async def iter_disputes(self, since: datetime | None) -> AsyncIterator[list[Any]]:
        """Disputes received or changed (a status-history entry took effect) at/after `since`
        (None: all), as lists of SDK `Dispute`s, each dispute once.

        Dispute search is a paginated collection (full objects, `?page=N`), not search-ids,
        and its date criteria are dates: `received_date` and `effective_date` (of a status
        history event). The SDK's dispute gateway keeps the criteria on itself between pages,
        so every search gets a gateway of its own and is read to the end before the next."""
        if since is None:
            terms = [braintree.DisputeSearch.received_date >= EPOCH.date()]
        else:
            day = _utc(since).date()
            terms = [
                braintree.DisputeSearch.received_date >= day,
                braintree.DisputeSearch.effective_date >= day,
            ]
        done: set[str] = set()  # across both searches: a dispute found by both comes once
        for term in terms:

            def open_search(term: Any = term) -> Iterator[Any]:
                # `search` only keeps the criteria; pages are fetched as the items are read.
                result = DisputeGateway(self._search_gateway).search(term)
                return (d for d in result.disputes.items if str(d.id) not in done)

            async for page in self._pages("disputes", open_search, done):
                yield page

    async def _id_pages(
        self, what: str, search: Callable[..., Any], ids_term: Any, found: Any
    ) -> AsyncIterator[list[Any]]:
        """The items of a search-ids result (`found`: the SDK collection, or a list of ids),
        page by page; after a failed page, the ids not yet read are searched again."""
        ids = list(found.ids) if not isinstance(found, list) else found
        done: set[str] = set()
        first: Iterator[Any] | None = iter(found.items) if not isinstance(found, list) else None

        def open_rest() -> Iterator[Any]:
            nonlocal first
            if first is not None:
                opened, first = first, None
                return opened
            rest = [i for i in ids if i not in done]
            # Lazy: each chunk's search-ids call runs as the pages before it are used up.
            return chain.from_iterable(
                search(ids_term.in_list(chunk)).items for chunk in _chunks(rest, IDS_PER_SEARCH)
            )

        async for page in self._pages(what, open_rest, done):
            yield page

    async def _pages(
        self, what: str, open_items: Callable[[], Iterator[Any]], done: set[str]
    ) -> AsyncIterator[list[Any]]:
        """Pull a search's items a page at a time, each pull in a worker thread (the SDK's
        iterator fetches the next page only when the previous one is used up).

        The next page is fetched while the caller works on this one (one page ahead: Braintree's
        latency overlaps the caller's writes, and at most two pages are held). A page that
        fails with a passing error (429, 5xx, timeout) is retried by opening the search again
        over what is not yet in `done` (the SDK's iterator cannot resume)."""
        items = open_items()
        ahead = asyncio.ensure_future(self._in_thread(_take, items, SEARCH_PAGE_SIZE))
        try:
            while True:
                async for attempt in self._search_retries(what):
                    with attempt:
                        if attempt.retry_state.attempt_number > 1:
                            items = open_items()
                            ahead = asyncio.ensure_future(
                                self._in_thread(_take, items, SEARCH_PAGE_SIZE)
                            )
                        page = await ahead
                if not page:
                    return
                done.update(str(item.id) for item in page)
                ahead = asyncio.ensure_future(self._in_thread(_take, items, SEARCH_PAGE_SIZE))
                yield page
        finally:
            # A caller that stops early does not want the read-ahead (nor its error).
            ahead.cancel()
            if ahead.done() and not ahead.cancelled():
                ahead.exception()

    async def _retrying(self, what: str, call: Callable[..., T], *args: Any) -> T:
        """One search call, tried again after a passing error."""
        async for attempt in self._search_retries(what):
            with attempt:
                return await self._in_thread(call, *args)
        raise AssertionError("unreachable: tenacity reraises the last error")  # pragma: no cover

    def _search_retries(self, what: str) -> AsyncRetrying:
        """`SEARCH_ATTEMPTS` in all for a passing error, waiting a growing delay between them.
        The log line names the error's class; its text is the SDK's, which never holds the
        keys."""
        return retrying(
            attempts=SEARCH_ATTEMPTS,
            wait=wait_incrementing(start=self._retry_delay, increment=self._retry_delay),
            log_event="braintree.search.retry",
            retryable=lambda error: isinstance(error, RETRYABLE),
            search=what,
        )

    async def _in_thread(self, call: Callable[..., T], *args: Any) -> T:
        """Run a blocking SDK call off the event loop, timed as Braintree's share."""
        started = time.perf_counter()
        try:
            return await anyio.to_thread.run_sync(call, *args, abandon_on_cancel=True)
        finally:
            add_wait_seconds("braintree", time.perf_counter() - started)

    async def _find(self, what: str, call: Callable[[str], T], key: str) -> T | None:
        try:
            return await self._in_thread(call, key)
        except NotFoundError:
            log.info("braintree.api.not_found", resource=what)
            return None


def _take(items: Iterator[Any], count: int) -> list[Any]:
    return list(islice(items, count))


def _chunks(values: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _utc(moment: datetime) -> datetime:
    """The SDK writes a search datetime as `%Y-%m-%dT%H:%M:%SZ` without converting it: give it
    UTC (a naive datetime is taken as UTC already)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
