"""The Braintree → Attio sync: backfill and reconciliation in one diff-based run.

1. Attio's billing records (subscriptions, payments, people with a Braintree customer id) are
   read in pages of 200 into an index (their compared values only) while Braintree is already
   being read.
2. Braintree is read in the SDK's pages of 50: disputes of the window first (they are folded
   into the write of the record they touch), then every subscription (all statuses), then the
   transactions created or changed in the window (not needed without a `payments` object: a
   subscription lists its newest transactions with their current state).
3. Each object's values come from the webhook path's transforms and are compared with the
   index; only a record that differs is queued, with everything it needs in one write.
4. A worker takes the record's lock (the one the webhook handlers hold), reads the record
   again, recomputes the write against it and writes only what still differs. The object's
   own `updated_at` is the run's clock: a webhook newer than the run's snapshot (it landed
   after Braintree was read) makes the record stale for the run, which then writes only facts
   Attio lacks, exactly as an older notification would.

Writes run on a pool of workers bounded by the Attio client's shared write limiter, so the run
writes at Attio's limit while webhooks handled by the same process share that budget. A record
that fails is ledgered (`braintree_sync` kind and id) and the run goes on; failing to read
either side aborts the run, and the watermark does not move.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from app.clients.attio import AttioClient
from app.clients.attio.values import (
    Record,
    Values,
    changed_slugs,
    compact,
    current_values,
    first_value,
    record_id,
    reference,
)
from app.clients.braintree import BraintreeClient
from app.errors import describe, is_permanent
from app.events.ledger import Ledger, LedgerEntry, LedgerStatus
from app.events.model import Source
from app.events.sources.braintree_sync import (
    BRAINTREE_SYNC_EVENT_TYPE,
    braintree_sync_entry_event,
    braintree_sync_failure_event,
)
from app.log import get_logger
from app.schema.definitions import (
    DISPUTE_STAMP,
    PAYMENT_KEY,
    PAYMENTS,
    PAYMENTS_OBJECT,
    PEOPLE,
    PERSON_KEY,
    SUBSCRIPTION_KEY,
    SUBSCRIPTIONS,
    SUBSCRIPTIONS_FOLDED_OBJECT,
)
from app.services.braintree.catalogue import ServiceCatalogue
from app.services.braintree.ordering import (
    STAMPS,
    is_stale,
    latest_payment,
    new_facts,
    open_dispute,
)
from app.services.braintree.people import PayerResolver, PersonLink
from app.services.braintree.sync.report import (
    MAX_REPORTED,
    BraintreeSyncProgress,
    BraintreeSyncReport,
    FailedRecord,
    Phase,
    PlannedChange,
)
from app.services.braintree.transforms import (
    PAYMENT_FACTS,
    PERSON_ATTRIBUTES,
    SUBSCRIPTION_FACTS,
    Payer,
    dispute_values,
    disputed_payment_values,
    event_stamp,
    newest_transaction,
    payment_values,
    person_values,
    subscription_payer,
    subscription_values,
    text,
    timestamp,
    transaction_payer,
)
from app.services.locks import KeyedLocks

log = get_logger(__name__)

DEFAULT_CONCURRENCY = 16
# Attio's pages while the index loads: three objects load at once, each page decoded whole
# (value objects and all) before it is compacted, and pages of 500 put 8 MB more on a run's
# peak than pages of 200, which cost 70 reads for 13,500 records (of 100 a second).
INDEX_PAGE_SIZE = 200
# Braintree pages held for the planner (50 objects each; a page of subscriptions with their
# transactions is about 1.5 MB of SDK objects). Reading a page takes far less time than
# writing one, so two keep the writers fed.
PAGE_BUFFER = 2
SYNC_KIND = "sync"  # `last_event_kind` of a record the sync wrote
DEFAULT_OVERLAP = timedelta(hours=1)
Observer = Callable[[BraintreeSyncProgress], None]
Links = Callable[[Record | None], Awaitable[Values]]


def utcnow() -> datetime:
    return datetime.now(UTC)


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


def _part(values: Values, existing: Record | None) -> Values:
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


# What the comparisons read of each held record: the attributes the bridge writes (either
# layout's); Attio's system and enriched attributes (of people above all) are never compared.
_COMPARED = {
    SUBSCRIPTIONS: frozenset(a.api_slug for a in SUBSCRIPTIONS_FOLDED_OBJECT.attributes),
    PAYMENTS: frozenset(a.api_slug for a in PAYMENTS_OBJECT.attributes),
    PEOPLE: PERSON_ATTRIBUTES,
}


def held(obj: str, record: Record) -> Record:
    """`record` as the run holds it: its id and the compared attributes' current values.

    Held for every billing record (13,500 for 2,000 subscriptions), where Attio's value
    objects would be most of the run's memory."""
    return compact(record, _COMPARED[obj])


@dataclass
class _Op:
    """One record to bring in step: its object, key, and how to compute its write."""

    kind: str  # subscription | transaction | dispute (the Braintree object, for the ledger)
    object_id: str
    obj: str  # the Attio object written
    key: str  # the unique key's value
    state: Callable[[Record | None], Values]  # pure: the write's state part
    links: Links | None  # the person / subscription references (may need I/O)
    moment: datetime | None  # the object's clock
    planned: tuple[str, ...]
    create: bool


@dataclass
class _People:
    """People with a Braintree customer id, by id and by email (loaded once per run)."""

    by_customer: dict[str, Record] = field(default_factory=dict)
    by_email: dict[str, Record] = field(default_factory=dict)

    def add(self, record: Record) -> None:
        if customer_id := first_value(record, "braintree_customer_id"):
            self.by_customer[customer_id] = record
        for address in current_values(record, PERSON_KEY):
            if address:
                self.by_email[address.lower()] = record


class BraintreeSync:
    def __init__(
        self,
        attio: AttioClient,
        braintree: BraintreeClient,
        ledger: Ledger | None,
        *,
        payments_object: bool = True,
        locks: KeyedLocks | None = None,
        catalogue: ServiceCatalogue | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        attio_page_size: int = INDEX_PAGE_SIZE,
    ) -> None:
        self.attio = attio
        self.braintree = braintree
        self.ledger = ledger
        self.payments_object = payments_object
        # The webhook handlers' locks: a run and a webhook never interleave on one record.
        self.locks = locks or KeyedLocks()
        self.catalogue = catalogue or ServiceCatalogue(attio)
        self.resolver = PayerResolver(attio, braintree)
        self.concurrency = max(1, concurrency)
        self.attio_page_size = attio_page_size

    async def run(
        self,
        *,
        since: datetime | None = None,
        dry_run: bool = False,
        observer: Observer | None = None,
        progress: BraintreeSyncProgress | None = None,
    ) -> BraintreeSyncReport:
        """One complete run over the window from `since` (None: everything)."""
        progress = progress or BraintreeSyncProgress(dry_run=dry_run, since=since)
        progress.since = since
        return await _Run(self, since, dry_run, progress, observer).execute()

    async def apply_one(self, kind: str, object_id: str) -> bool:
        """Fetch one object from Braintree and bring its record in step (ledger replays).

        False when Braintree no longer has it. Errors propagate to the caller (the processor,
        which keeps the ledger record for the next retry)."""
        run = _Run(self, None, False, BraintreeSyncProgress(dry_run=False), None, replay=True)
        return await run.apply_one(kind, object_id)


class _End:
    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


_Page = tuple[str, list[Any]]


class _Run:
    def __init__(
        self,
        sync: BraintreeSync,
        since: datetime | None,
        dry_run: bool,
        progress: BraintreeSyncProgress,
        observer: Observer | None,
        *,
        replay: bool = False,
    ) -> None:
        self.sync = sync
        self.since = since
        self.dry_run = dry_run
        self.progress = progress
        self.counts = progress.counts
        self.observer = observer
        self.replay = replay
        self.subscriptions: dict[str, Record] = {}
        self.payments: dict[str, Record] = {}
        self.people = _People()
        self.pending_subscriptions: dict[str, asyncio.Future[str | None]] = {}
        self.person_writes: dict[str, asyncio.Future[PersonLink]] = {}
        self.disputes_by_tx: dict[str, Any] = {}
        self.plan: list[PlannedChange] = []
        self.failures: list[FailedRecord] = []
        self.previous_failures: dict[str, LedgerEntry] = {}
        self.loaded = asyncio.Event()

    # -- the run ------------------------------------------------------------------------------

    async def execute(self) -> BraintreeSyncReport:
        started = time.perf_counter()
        log.info("braintree.sync.started", since=timestamp(self.since), dry_run=self.dry_run)
        self._notify()
        error = await self._steps()
        self.progress.error = error
        self.progress.phase = Phase.aborted if error else Phase.done
        self._notify()
        report = BraintreeSyncReport(
            dry_run=self.dry_run,
            since=self.since,
            counts=self.counts,
            elapsed_seconds=time.perf_counter() - started,
            error=error,
            plan=self.plan,
            failures=self.failures,
        )
        (log.error if error else log.info)(
            "braintree.sync.finished",
            error=error,
            elapsed_seconds=round(report.elapsed_seconds, 2),
            writes=self.counts.writes,
            failed=self.counts.failed,
        )
        return report

    async def _steps(self) -> str | None:
        pages: asyncio.Queue[_Page | _End] = asyncio.Queue(maxsize=PAGE_BUFFER)
        work: asyncio.Queue[_Op | None] = asyncio.Queue(maxsize=self.sync.concurrency * 4)
        braintree_error: BaseException | None = None
        async with asyncio.TaskGroup() as group:
            reader = group.create_task(self._read_braintree(pages))
            try:
                await self._load_attio()
            except Exception as exc:
                reader.cancel()
                return f"could not read Attio's billing records: {describe(exc)}"
            await self._load_previous_failures()
            workers = [group.create_task(self._worker(work)) for _ in range(self.sync.concurrency)]
            try:
                braintree_error = await self._plan_pages(pages, work)
            finally:
                for _ in workers:
                    await work.put(None)
        if braintree_error is not None:
            return f"could not read Braintree completely: {describe(braintree_error)}"
        return None

    def _notify(self) -> None:
        if self.observer is not None:
            self.observer(self.progress)

    # -- reading ------------------------------------------------------------------------------

    async def _read_braintree(self, pages: asyncio.Queue[_Page | _End]) -> None:
        client = self.sync.braintree
        listings: list[tuple[str, Callable[[], AsyncIterator[list[Any]]]]] = [
            ("dispute", lambda: client.iter_disputes(self.since)),
            ("subscription", client.iter_subscriptions),
        ]
        if self.sync.payments_object:
            listings.append(("transaction", lambda: client.iter_transactions(self.since)))
        try:
            for kind, listing in listings:
                read = listing()
                try:
                    async for page in read:
                        await pages.put((kind, page))
                finally:
                    # A cancelled run also ends the SDK listing still in flight.
                    if (close := getattr(read, "aclose", None)) is not None:
                        await close()
        except Exception as exc:
            await pages.put(_End(exc))
        else:
            await pages.put(_End())

    async def _load_attio(self) -> None:
        async def load(obj: str, into: Callable[[Record], None], filter: Any = None) -> None:
            async for record in self.sync.attio.iter_records(
                obj, filter=filter, page_size=self.sync.attio_page_size
            ):
                into(held(obj, record))
                self.progress.attio_records += 1
            self._notify()

        def subscription(record: Record) -> None:
            if key := first_value(record, SUBSCRIPTION_KEY):
                self.subscriptions[key] = record

        def payment(record: Record) -> None:
            if key := first_value(record, PAYMENT_KEY):
                self.payments[key] = record

        loads = [
            load(SUBSCRIPTIONS, subscription),
            load(PEOPLE, self.people.add, {"braintree_customer_id": {"$not_empty": True}}),
        ]
        if self.sync.payments_object:
            loads.append(load(PAYMENTS, payment))
        await asyncio.gather(*loads)
        self.loaded.set()

    async def _load_previous_failures(self) -> None:
        """Earlier runs' failed records, marked replayed once their object goes through."""
        if self.dry_run or self.sync.ledger is None:
            return
        try:
            for status in (LedgerStatus.failed, LedgerStatus.dead):
                for entry in await self.sync.ledger.list_entries(
                    status=status,
                    source=Source.braintree,
                    event_type=BRAINTREE_SYNC_EVENT_TYPE,
                    limit=1000,
                ):
                    self.previous_failures[entry.event_key] = entry
        except Exception as exc:
            log.warning("braintree.sync.ledger_read_failed", error=describe(exc))

    # -- planning -----------------------------------------------------------------------------

    async def _plan_pages(
        self, pages: asyncio.Queue[_Page | _End], work: asyncio.Queue[_Op | None]
    ) -> BaseException | None:
        disputes_done = False
        while not isinstance(item := await pages.get(), _End):
            kind, page = item
            self.progress.braintree_objects += len(page)
            if kind != "dispute" and not disputes_done:
                disputes_done = True
            for obj in page:
                try:
                    op = await self._plan(kind, obj)
                except Exception as exc:
                    await self._fail(kind, text(getattr(obj, "id", None)) or "unknown", exc)
                    continue
                if op is not None:
                    await self._enqueue(op, work)
            self._notify()
        if item.error is None:
            # Disputes whose transaction no listing brought: a write of their own.
            for dispute in list(self.disputes_by_tx.values()):
                try:
                    op = await self._plan("dispute", dispute)
                except Exception as exc:
                    await self._fail("dispute", text(getattr(dispute, "id", None)) or "", exc)
                    continue
                if op is not None:
                    await self._enqueue(op, work)
            self.disputes_by_tx.clear()
        self.progress.braintree_complete = item.error is None
        self.progress.phase = Phase.writing
        self._notify()
        return item.error

    async def _plan(self, kind: str, obj: Any) -> _Op | None:
        if kind == "dispute" and not self.replay and self._hold_dispute(obj):
            return None
        op = await self._op_for(kind, obj)
        if op is None:
            return None
        if kind == "subscription" and op.create:
            self.pending_subscriptions[op.key] = asyncio.get_running_loop().create_future()
        if self.dry_run:
            self.plan.append(PlannedChange(op.obj, op.key, op.create, op.planned))
            self._count(op, op.planned, created=op.create)
            return None
        return op

    def _hold_dispute(self, dispute: Any) -> bool:
        """While the listings that carry its record are still to come, keep the dispute for
        that record's write (one write per record). False once it must be written alone."""
        if self.progress.braintree_complete:
            return False
        transaction_id = text(getattr(getattr(dispute, "transaction", None), "id", None))
        if transaction_id is None or transaction_id in self.disputes_by_tx:
            return False
        self.disputes_by_tx[transaction_id] = dispute
        return True

    async def _op_for(self, kind: str, obj: Any) -> _Op | None:
        """The write `obj` needs against the index (None: in step already)."""
        if kind == "subscription":
            return await self._subscription_op(obj)
        if kind == "transaction":
            if not self.sync.payments_object:
                return self._folded_payment_op(obj)
            return self._payment_op(obj)
        if not self.sync.payments_object:
            return await self._folded_dispute_op(obj)
        return self._dispute_op(obj)

    # -- subscriptions ------------------------------------------------------------------------

    async def _subscription_op(self, subscription: Any) -> _Op | None:
        subscription_id = text(getattr(subscription, "id", None))
        if subscription_id is None:
            raise ValueError("a Braintree subscription without an id")
        moment = updated_at(subscription)
        base = subscription_values(subscription)
        plan_id = text(getattr(subscription, "plan_id", None))
        service = await self.sync.catalogue.service_for(plan_id) if plan_id else None
        payer = subscription_payer(subscription)
        newest = newest_transaction(subscription)
        disputes: list[Any] = []
        if not self.sync.payments_object:
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
        if newest is not None and not self.sync.payments_object:
            folded = (payment_values(newest, SYNC_KIND, updated_at(newest)), updated_at(newest))
        dispute_states = [(dispute_values(d, dispute_kind(d)), updated_at(d)) for d in disputes]
        discover = self._discover_by_method(subscription)

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
                values |= _part(latest_payment(existing, payment, paid_at), existing)
            for dispute_state, disputed_at in dispute_states:
                values |= _part(open_dispute(existing, dispute_state, disputed_at), existing)
            return values

        async def links(existing: Record | None) -> Values:
            stale = is_stale(existing, moment)
            link = await self._link(payer, existing, stale, discover)
            return _part(new_facts(link, existing, SUBSCRIPTION_FACTS) if stale else link, existing)

        existing = self.subscriptions.get(subscription_id)
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

    def _discover_by_method(self, subscription: Any) -> Callable[[], Awaitable[Payer | None]]:
        token = text(getattr(subscription, "payment_method_token", None))

        async def discover() -> Payer | None:
            if token is None:
                return None
            customer_id = await self.sync.braintree.customer_id_for_payment_method(token)
            return Payer(customer_id=customer_id) if customer_id else None

        return discover

    # -- payments -----------------------------------------------------------------------------

    def _payment_op(self, transaction: Any, dispute: Any = None) -> _Op | None:
        transaction_id = text(getattr(transaction, "id", None))
        if transaction_id is None:
            raise ValueError("a Braintree transaction without an id")
        dispute = dispute or self.disputes_by_tx.pop(transaction_id, None)
        moment = updated_at(transaction)
        base = payment_values(transaction, SYNC_KIND, moment)
        payer = transaction_payer(transaction)
        subscription_id = text(getattr(transaction, "subscription_id", None))

        def state(existing: Record | None) -> Values:
            values = state_part(base, existing, moment, key=PAYMENT_KEY, facts=PAYMENT_FACTS)
            if dispute is not None:
                values |= self._dispute_part(dispute, existing)
            return values

        async def links(existing: Record | None) -> Values:
            stale = is_stale(existing, moment)
            link = await self._link(payer, existing, stale, _nobody)
            if subscription_id is not None and (
                existing is None or first_value(existing, "subscription") is None
            ):
                link |= await self._subscription_reference(subscription_id)
            return _part(new_facts(link, existing, PAYMENT_FACTS) if stale else link, existing)

        existing = self.payments.get(transaction_id)
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

    def _dispute_part(self, dispute: Any, existing: Record | None) -> Values:
        """The webhook path's dispute write: gaps of the payment filled, the dispute's state on
        its own clock."""
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

    def _dispute_op(self, dispute: Any) -> _Op | None:
        transaction_id = text(getattr(getattr(dispute, "transaction", None), "id", None))
        dispute_id = text(getattr(dispute, "id", None)) or "unknown"
        if transaction_id is None:
            raise ValueError("a Braintree dispute naming no transaction")

        def state(existing: Record | None) -> Values:
            values = self._dispute_part(dispute, existing)
            # Creating the payment from the dispute alone: the assert needs more than the key.
            return values

        return self._op(
            "dispute",
            dispute_id,
            PAYMENTS,
            transaction_id,
            state,
            None,
            updated_at(dispute),
            self.payments.get(transaction_id),
        )

    # -- without a payments object ------------------------------------------------------------

    def _folded_payment_op(self, transaction: Any) -> _Op | None:
        transaction_id = text(getattr(transaction, "id", None)) or "unknown"
        subscription_id = text(getattr(transaction, "subscription_id", None))
        if subscription_id is None:
            self.counts.unplaced += 1
            return None
        moment = updated_at(transaction)
        payment = payment_values(transaction, SYNC_KIND, moment)

        def state(existing: Record | None) -> Values:
            return _part(latest_payment(existing, payment, moment), existing)

        return self._op(
            "transaction",
            transaction_id,
            SUBSCRIPTIONS,
            subscription_id,
            state,
            None,
            moment,
            self.subscriptions.get(subscription_id),
        )

    async def _folded_dispute_op(self, dispute: Any) -> _Op | None:
        dispute_id = text(getattr(dispute, "id", None)) or "unknown"
        details = getattr(dispute, "transaction", None)
        transaction_id = text(getattr(details, "id", None))
        subscription_id = text(getattr(details, "payment_instrument_subscription_id", None))
        if subscription_id is None and transaction_id is not None:
            subscription_id = next(
                (
                    key
                    for key, record in self.subscriptions.items()
                    if first_value(record, "last_payment_id") == transaction_id
                ),
                None,
            )
        if subscription_id is None and transaction_id is not None:
            transaction = await self.sync.braintree.find_transaction(transaction_id)
            subscription_id = (
                text(getattr(transaction, "subscription_id", None)) if transaction else None
            )
        if subscription_id is None:
            self.counts.unplaced += 1
            return None
        state = dispute_values(dispute, dispute_kind(dispute))
        moment = updated_at(dispute)

        def dispute_state(existing: Record | None) -> Values:
            return _part(open_dispute(existing, state, moment), existing)

        return self._op(
            "dispute",
            dispute_id,
            SUBSCRIPTIONS,
            subscription_id,
            dispute_state,
            None,
            moment,
            self.subscriptions.get(subscription_id),
        )

    # -- shared planning ----------------------------------------------------------------------

    def _op(
        self,
        kind: str,
        object_id: str,
        obj: str,
        key: str,
        state: Callable[[Record | None], Values],
        links: Links | None,
        moment: datetime | None,
        existing: Record | None,
        *,
        needs_link: bool = False,
    ) -> _Op | None:
        """An op when the record (as indexed) needs a write; None when it is in step.

        The index check computes the state part only; the links (which may need Attio or
        Braintree) are looked at only when `needs_link` says the record lacks them."""
        preview = state(existing)
        if not preview and not needs_link:
            self.counts.of(kind).unchanged += 1
            if is_stale(existing, moment):
                self.counts.stale += 1
            return None
        changed = changed_slugs(preview, existing, ignore=STAMPS) or ("person",)
        return _Op(kind, object_id, obj, key, state, links, moment, changed, existing is None)

    async def _enqueue(self, op: _Op, work: asyncio.Queue[_Op | None]) -> None:
        self.progress.planned += 1
        await work.put(op)

    # -- links --------------------------------------------------------------------------------

    async def _link(
        self,
        payer: Payer | None,
        existing: Record | None,
        stale: bool,
        discover: Callable[[], Awaitable[Payer | None]],
    ) -> Values:
        """The person link, found as the webhook path finds it, writing a person only when
        Attio's differs (once per person per run)."""
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
        if payer.email is None and payer.customer_id:
            person = self.people.by_customer.get(payer.customer_id)
            if person is not None:
                return PersonLink(record_id(person), payer.customer_id).values()
            link = await self.sync.resolver.resolve(payer, known=known, stale=stale)
            return link.values() if link is not None else {}
        if payer.email is None:
            return {}
        person = self.people.by_email.get(payer.email.lower())
        if person is not None and not changed_slugs(person_values(payer), person, ignore=STAMPS):
            return PersonLink(record_id(person), payer.customer_id).values()
        return (await self._person_write(payer)).values()

    async def _person_write(self, payer: Payer) -> PersonLink:
        assert payer.email is not None
        address = payer.email.lower()
        pending = self.person_writes.get(address)
        if pending is None:
            pending = asyncio.get_running_loop().create_future()
            self.person_writes[address] = pending
            try:
                link = await self.sync.resolver.assert_person(payer)
            except BaseException as exc:
                del self.person_writes[address]
                pending.set_exception(exc)
                pending.exception()  # retrieved: the caller raises it
                raise
            self.counts.of("person").updated += 1
            pending.set_result(link)
        return await pending

    async def _subscription_reference(self, subscription_id: str) -> Values:
        record = self.subscriptions.get(subscription_id)
        if record is not None:
            return {"subscription": reference(SUBSCRIPTIONS, record_id(record))}
        pending = self.pending_subscriptions.get(subscription_id)
        if pending is not None:
            found = await asyncio.shield(pending)
            if found is not None:
                return {"subscription": reference(SUBSCRIPTIONS, found)}
        # Not listed by Braintree yet: its id alone, as the webhook path links it.
        created = await self.sync.attio.assert_record(
            SUBSCRIPTIONS,
            matching_attribute=SUBSCRIPTION_KEY,
            values={SUBSCRIPTION_KEY: subscription_id},
        )
        self.subscriptions[subscription_id] = held(SUBSCRIPTIONS, created)
        return {"subscription": reference(SUBSCRIPTIONS, record_id(created))}

    # -- writing ------------------------------------------------------------------------------

    async def _worker(self, work: asyncio.Queue[_Op | None]) -> None:
        while (op := await work.get()) is not None:
            try:
                await self._execute(op)
            except Exception as exc:
                await self._fail(op.kind, op.object_id, exc)
            finally:
                self._settle_pending(op)
                self.progress.finished += 1
                self._notify()

    def _settle_pending(self, op: _Op) -> None:
        pending = self.pending_subscriptions.pop(op.key, None) if op.obj == SUBSCRIPTIONS else None
        if pending is not None and not pending.done():
            record = self.subscriptions.get(op.key)
            pending.set_result(record_id(record) if record is not None else None)

    async def _execute(self, op: _Op) -> None:
        unique = SUBSCRIPTION_KEY if op.obj == SUBSCRIPTIONS else PAYMENT_KEY
        async with self.sync.locks.hold(f"{op.obj}:{op.key}"):
            # Read again under the lock: a webhook may have written since the index was read.
            existing = await self.sync.attio.find_record(op.obj, unique, op.key)
            values = op.state(existing)
            if op.links is not None:
                values |= await op.links(existing)
            if not values:
                if existing is not None:
                    self.subscriptions_or_payments(op.obj)[op.key] = held(op.obj, existing)
                if is_stale(existing, op.moment):
                    self.counts.stale += 1  # a webhook wrote newer state since the index
                self.counts.of(op.kind).unchanged += 1
                return
            changed = changed_slugs(values, existing, ignore=STAMPS)
            record = await self.sync.attio.assert_record(
                op.obj, matching_attribute=unique, values={unique: op.key, **values}
            )
        self.subscriptions_or_payments(op.obj)[op.key] = held(op.obj, record)
        self._count(op, changed, created=existing is None)
        await self._settle_previous_failure(op)

    def subscriptions_or_payments(self, obj: str) -> dict[str, Record]:
        return self.subscriptions if obj == SUBSCRIPTIONS else self.payments

    def _count(self, op: _Op, changed: tuple[str, ...], *, created: bool) -> None:
        counts = self.counts.of(op.kind)
        if created:
            counts.created += 1
        else:
            counts.updated += 1
        log.debug("braintree.sync.written", object=op.obj, key=op.key, changed=list(changed))

    # -- single records (ledger replays) ------------------------------------------------------

    async def apply_one(self, kind: str, object_id: str) -> bool:
        client = self.sync.braintree
        fetch = {
            "subscription": client.find_subscription,
            "transaction": client.find_transaction,
            "dispute": client.find_dispute,
        }[kind]
        obj = await fetch(object_id)
        if obj is None:
            log.info("braintree.sync.replay_gone", kind=kind, object_id=object_id)
            return False
        op = await self._op_for(kind, obj)  # nothing is indexed: every object gets an op
        if op is not None:
            await self._execute(op)
        return True

    # -- failures -----------------------------------------------------------------------------

    async def _fail(self, kind: str, object_id: str, error: BaseException) -> None:
        message = describe(error)
        self.counts.of(kind).failed += 1
        event = braintree_sync_failure_event(kind=kind, object_id=object_id)
        if len(self.failures) < MAX_REPORTED:
            self.failures.append(FailedRecord(kind, object_id, message, event.event_key))
        log.warning("braintree.sync.record_failed", kind=kind, object_id=object_id, error=message)
        if self.dry_run or self.sync.ledger is None or self.replay:
            return
        try:
            await self.sync.ledger.record_failure(
                event,
                message,
                permanent=is_permanent(error),
                previous=self.previous_failures.get(event.event_key),
            )
        except Exception as exc:
            log.error(
                "braintree.sync.ledger_write_failed", object_id=object_id, error=describe(exc)
            )

    async def _settle_previous_failure(self, op: _Op) -> None:
        if self.sync.ledger is None or not self.previous_failures:
            return
        event = braintree_sync_failure_event(kind=op.kind, object_id=op.object_id)
        entry = self.previous_failures.pop(event.event_key, None)
        if entry is None:
            return
        try:
            await self.sync.ledger.mark_succeeded(braintree_sync_entry_event(entry.raw), entry)
        except Exception as exc:
            log.warning(
                "braintree.sync.ledger_settle_failed",
                event_key=entry.event_key,
                error=describe(exc),
            )


async def _nobody() -> Payer | None:
    return None


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
