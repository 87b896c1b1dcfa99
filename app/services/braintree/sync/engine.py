"""The Braintree → Attio sync: backfill and reconciliation in one diff-based run.

1. Attio's billing records (subscriptions, payments, people with a Braintree customer id) are
   read in pages into an index (`index.py`: their compared values only) while Braintree is
   already being read.
2. Braintree is read in the SDK's pages of 50: disputes of the window first (they are folded
   into the write of the record they touch), then every subscription (all statuses), then the
   transactions created or changed in the window (not needed without a `payments` object: a
   subscription lists its newest transactions with their current state).
3. Each object's values come from the webhook path's transforms and are compared with the
   index (`plans.py`); only a record that differs is queued, with everything it needs in one
   write, its person and subscription references included (`links.py`).
4. A worker takes the record's lock (the one the webhook handlers hold), reads the record
   again, recomputes the write against it and writes only what still differs. The object's
   own `updated_at` is the run's clock: a webhook newer than the run's snapshot (it landed
   after Braintree was read) makes the record stale for the run, which then writes only facts
   Attio lacks, exactly as an older notification would.

The reading, the worker pool and the ledger of failed records are the shared sync pipeline's
(`app.services.syncpipeline`). A record that fails is ledgered (`braintree_sync` kind and id)
and the run goes on; failing to read either side aborts the run, and the watermark does not
move.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from app.clients.attio import AttioClient
from app.clients.attio.values import changed_slugs, first_value
from app.clients.braintree import BraintreeClient
from app.errors import describe
from app.events.ledger import Ledger
from app.events.model import Source
from app.events.sources.braintree_sync import (
    BRAINTREE_SYNC_EVENT_TYPE,
    braintree_sync_entry_event,
    braintree_sync_failure_event,
)
from app.log import get_logger
from app.schema.definitions import SUBSCRIPTIONS
from app.services.braintree.billing import Billing
from app.services.braintree.catalogue import ServiceCatalogue
from app.services.braintree.companies import CompanyRollup
from app.services.braintree.ordering import STAMPS, is_stale
from app.services.braintree.sync.index import UNIQUE_KEYS, BillingIndex
from app.services.braintree.sync.links import Links
from app.services.braintree.sync.plans import Op, Planner
from app.services.braintree.sync.report import (
    BraintreeSyncProgress,
    BraintreeSyncReport,
    FailedRecord,
    PlannedChange,
)
from app.services.braintree.sync.summaries import Summaries
from app.services.braintree.transforms import text, timestamp
from app.services.fx import ExchangeRates
from app.services.locks import KeyedLocks
from app.services.syncpipeline import (
    DEFAULT_CONCURRENCY,
    End,
    Enqueue,
    FailureBook,
    Listing,
    Message,
    Steps,
    SyncPipeline,
    read_listings,
)

log = get_logger(__name__)

# Attio's pages while the index loads: three objects load at once, each page decoded whole
# (value objects and all) before it is compacted, so larger pages raise a run's peak memory
# more than they save in reads.
INDEX_PAGE_SIZE = 200
# Braintree pages held for the planner (50 objects each; a page of subscriptions with their
# transactions is about 1.5 MB of SDK objects). Reading a page takes far less time than
# writing one, so two keep the writers fed.
PAGE_BUFFER = 2
DEFAULT_OVERLAP = timedelta(hours=1)
Observer = Callable[[BraintreeSyncProgress], None]


def utcnow() -> datetime:
    return datetime.now(UTC)


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
        billing: Billing | None = None,
    ) -> None:
        self.attio = attio
        self.braintree = braintree
        self.ledger = ledger
        self.payments_object = payments_object
        # The webhook handlers' locks: a run and a webhook never interleave on one record.
        self.locks = locks or KeyedLocks()
        self.catalogue = catalogue or ServiceCatalogue(attio)
        self.concurrency = max(1, concurrency)
        self.attio_page_size = attio_page_size
        # The summaries' plans, currencies and rates: the webhook path's, shared.
        self.billing = billing or Billing(
            attio,
            braintree,
            reporting_currency="USD",
            rates=ExchangeRates(),
            companies=CompanyRollup(attio, delay=0),
            locks=self.locks,
        )

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
        self.replay = replay
        self.index = BillingIndex()
        self.links = Links(
            sync.attio,
            sync.braintree,
            self.index,
            self.counts,
            summarize=None if dry_run else sync.billing.compute,
        )
        self.planner = Planner(
            self.index,
            self.links,
            sync.catalogue,
            sync.braintree,
            self.counts,
            payments_object=sync.payments_object,
        )
        self.plan: list[PlannedChange] = []
        billing = sync.billing
        assert billing.catalogue is not None  # a sync always has Braintree
        self.summaries = Summaries(
            sync.attio,
            sync.braintree,
            billing.catalogue,
            billing.rates,
            billing.reporting_currency,
            self.index,
            self.counts,
            complete_payments=sync.payments_object and since is None,
            search_all=not sync.payments_object and since is None,
        )
        self.planner.summaries = self.summaries
        self.failures = FailureBook[FailedRecord](
            "braintree",
            sync.ledger,
            source=Source.braintree,
            event_type=BRAINTREE_SYNC_EVENT_TYPE,
            subject_of=lambda entry: entry.event_key,
            rebuild=braintree_sync_entry_event,
            record=not (dry_run or replay),
        )
        self.pipeline = SyncPipeline(
            "braintree",
            progress,
            observer,
            failures=self.failures,
            concurrency=sync.concurrency,
            page_buffer=PAGE_BUFFER,
        )

    async def execute(self) -> BraintreeSyncReport:
        steps = Steps[str, Op](
            attio_records="billing records",
            read=self._read_braintree,
            load=self._load_attio,
            plan=self._plan_pages,
            write=self._execute,
            failed=lambda op, error: self._fail(op.kind, op.object_id, error),
            finished=self._finished,
        )
        await self.sync.billing.load_rates()
        await self.summaries.start()
        error, elapsed = await self.pipeline.execute(
            steps, since=timestamp(self.since), dry_run=self.dry_run
        )
        if error is None:
            started = time.monotonic()
            await self.summaries.run(
                dry_run=self.dry_run,
                plan=self.plan,
                concurrency=self.sync.concurrency,
                hold=self.sync.locks.hold,
            )
            elapsed += time.monotonic() - started
        return BraintreeSyncReport(
            dry_run=self.dry_run,
            since=self.since,
            counts=self.counts,
            elapsed_seconds=elapsed,
            error=error,
            plan=self.plan,
            failures=self.failures.reported,
        )

    # -- reading ------------------------------------------------------------------------------

    def _listings(self) -> list[Listing[str]]:
        client, since = self.sync.braintree, self.since
        listings: list[Listing[str]] = [
            ("dispute", lambda: client.iter_disputes(since)),
            ("subscription", client.iter_subscriptions),
        ]
        if self.sync.payments_object:
            listings.append(("transaction", lambda: client.iter_transactions(since)))
        return listings

    async def _read_braintree(self, pages: asyncio.Queue[Message[str]]) -> None:
        # A listing that fails ends the reading: the run is aborted anyway.
        await read_listings(pages, self._listings(), after_error="stop")

    async def _load_attio(self) -> None:
        def counted() -> None:
            self.progress.attio_records += 1

        await self.index.load(
            self.sync.attio,
            payments_object=self.sync.payments_object,
            page_size=self.sync.attio_page_size,
            on_record=counted,
            on_loaded=self.pipeline.notify,
        )

    # -- planning -----------------------------------------------------------------------------

    async def _plan_pages(
        self, pages: asyncio.Queue[Message[str]], enqueue: Enqueue[Op]
    ) -> str | None:
        listings, ended, error = len(self._listings()), 0, None
        while ended < listings and error is None:
            message = await pages.get()
            if isinstance(message, End):
                ended, error = ended + 1, message.error
                continue
            self.progress.braintree_objects += len(message.items)
            for obj in message.items:
                self.summaries.observe(message.listing, obj)
                await self._plan_one(message.listing, obj, enqueue)
            self.pipeline.notify()
        if error is None:
            for dispute in self.planner.held_disputes():
                await self._plan_one("dispute", dispute, enqueue, hold=False)
        self.progress.braintree_complete = error is None
        self.pipeline.source_read()
        if error is not None:
            return f"could not read Braintree completely: {describe(error)}"
        return None

    async def _plan_one(
        self, kind: str, obj: Any, enqueue: Enqueue[Op], *, hold: bool = True
    ) -> None:
        try:
            op = await self._plan(kind, obj, hold=hold)
        except Exception as exc:
            await self._fail(kind, text(getattr(obj, "id", None)) or "unknown", exc)
            return
        if op is not None:
            await enqueue(op)

    async def _plan(self, kind: str, obj: Any, *, hold: bool) -> Op | None:
        """The op `obj` needs (None: in step, held for its record's write, or a dry run's)."""
        if kind == "dispute" and hold and self.planner.hold_dispute(obj):
            return None
        op = await self.planner.op_for(kind, obj)
        if op is None:
            return None
        if kind == "subscription" and op.create:
            self.links.expect_subscription(op.key)
        if self.dry_run:
            self.plan.append(PlannedChange(op.obj, op.key, op.create, op.planned))
            self._count(op, op.planned, created=op.create)
            return None
        return op

    # -- writing ------------------------------------------------------------------------------

    async def _execute(self, op: Op) -> None:
        unique = UNIQUE_KEYS[op.obj]
        async with self.sync.locks.hold(f"{op.obj}:{op.key}"):
            # Read again under the lock: a webhook may have written since the index was read.
            existing = await self.sync.attio.find_record(op.obj, unique, op.key)
            values = op.state(existing)
            if op.links is not None:
                values |= await op.links(existing)
            if not values:
                if existing is not None:
                    self.index.keep(op.obj, op.key, existing)
                if is_stale(existing, op.moment):
                    self.counts.note("stale")  # a webhook wrote newer state since the index
                self.counts.of(op.kind).unchanged += 1
                return
            changed = changed_slugs(values, existing, ignore=STAMPS)
            record = await self.sync.attio.assert_record(
                op.obj, matching_attribute=unique, values={unique: op.key, **values}
            )
        self.index.keep(op.obj, op.key, record)
        if op.obj == SUBSCRIPTIONS:
            self.summaries.written_subscription(first_value(record, "braintree_customer_id"))
        self._count(op, changed, created=existing is None)
        event = braintree_sync_failure_event(kind=op.kind, object_id=op.object_id)
        await self.failures.settle(event.event_key)

    def _finished(self, op: Op) -> None:
        if op.obj == SUBSCRIPTIONS:
            self.links.subscription_settled(op.key)

    def _count(self, op: Op, changed: tuple[str, ...], *, created: bool) -> None:
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
        op = await self.planner.op_for(kind, obj)  # nothing is indexed: every object gets an op
        if op is not None:
            await self._execute(op)
        return True

    # -- failures -----------------------------------------------------------------------------

    async def _fail(self, kind: str, object_id: str, error: BaseException) -> None:
        self.counts.of(kind).failed += 1
        event = braintree_sync_failure_event(kind=kind, object_id=object_id)

        def report(message: str) -> FailedRecord:
            return FailedRecord(kind, object_id, message, event.event_key)

        await self.failures.fail(
            event.event_key, event, error, report, kind=kind, object_id=object_id
        )
