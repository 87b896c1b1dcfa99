"""The Attio → Braintree catch-up: edits Attio did not deliver, sent to Braintree in one run.

1. Attio's companies are read into an index (name, and when it became current) while the
   people with a `braintree_customer_id` are already being read, a page at a time.
2. Each page's customers are read from Braintree, a few at once (`BRAINTREE_READS`), each
   read tried again after a 429 or 5xx as the Braintree sync's search pages are; Attio's reads
   go through the Attio client's read limiter.
3. Each person is compared with their customer (`compare.py`): a contact field that differs
   is sent only where Attio's value is newer than the customer's `updated_at`.
4. A worker (at most `DEFAULT_CONCURRENCY` Braintree updates at once) reads the person and the
   customer again, compares again, and sends what still differs.

The pipeline (`app.services.syncpipeline`) runs the steps, counts, and ledgers a failed person
(`attio:sync:person:<record id>`); a replay of that entry runs step 4 for that person alone.
Failing to read Attio aborts the run before anything is sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from app.clients.attio import AttioClient, AttioNotFoundError
from app.clients.attio.values import Record, first_value, record_id
from app.clients.braintree import BraintreeClient
from app.errors import describe
from app.events.ledger import Ledger
from app.events.model import Source
from app.events.sources.attio_sync import (
    ATTIO_SYNC_EVENT_TYPE,
    attio_sync_entry_event,
    attio_sync_failure_event,
)
from app.log import get_logger
from app.schema.definitions import COMPANIES, PEOPLE
from app.services.attio.sync.compare import CompanyName, CustomerDiff, compare, value_since
from app.services.attio.sync.report import (
    GROUP,
    AttioSyncProgress,
    AttioSyncReport,
    FailedCustomer,
    PlannedUpdate,
)
from app.services.syncpipeline import (
    End,
    Enqueue,
    FailureBook,
    Message,
    Steps,
    SyncPipeline,
    read_listings,
)

log = get_logger(__name__)

CUSTOMER_ID = "braintree_customer_id"
PAGE_SIZE = 200  # people per Attio query and per planning step
# Braintree customer reads in flight at once. Braintree publishes no request rate; a few reads
# at once keep a run short without looking like a burst, and a 429 is waited out and retried.
BRAINTREE_READS = 4
# Braintree customer updates in flight at once (Attio's write limiter does not bound these).
DEFAULT_CONCURRENCY = 4
PAGE_BUFFER = 2
Observer = Callable[[AttioSyncProgress], None]
WITH_CUSTOMER = {CUSTOMER_ID: {"$not_empty": True}}


@dataclass(frozen=True)
class Op:
    person: str  # the Attio record id
    customer_id: str
    changed: tuple[str, ...]  # as planned; the write compares again


class AttioCatchUp:
    def __init__(
        self,
        attio: AttioClient,
        braintree: BraintreeClient,
        ledger: Ledger | None,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self.attio = attio
        self.braintree = braintree
        self.ledger = ledger
        self.concurrency = max(1, concurrency)
        self.page_size = page_size

    async def run(
        self,
        *,
        dry_run: bool = False,
        observer: Observer | None = None,
        progress: AttioSyncProgress | None = None,
    ) -> AttioSyncReport:
        progress = progress or AttioSyncProgress(dry_run=dry_run)
        return await _Run(self, dry_run, progress, observer).execute()

    async def apply_one(self, person_id: str) -> bool:
        """Bring one person's customer in step (ledger replays); False when the person or the
        customer is gone. Errors propagate to the processor, which keeps the ledger entry."""
        run = _Run(self, False, AttioSyncProgress(dry_run=False), None, replay=True)
        return await run.apply_one(person_id)


class _Run:
    def __init__(
        self,
        sync: AttioCatchUp,
        dry_run: bool,
        progress: AttioSyncProgress,
        observer: Observer | None,
        *,
        replay: bool = False,
    ) -> None:
        self.sync = sync
        self.dry_run = dry_run
        self.progress = progress
        self.counts = progress.counts
        self.companies: dict[str, CompanyName] = {}
        self.plan: list[PlannedUpdate] = []
        self.failures = FailureBook[FailedCustomer](
            "attio",
            sync.ledger,
            source=Source.attio,
            event_type=ATTIO_SYNC_EVENT_TYPE,
            subject_of=lambda entry: entry.event_key,
            rebuild=attio_sync_entry_event,
            record=not (dry_run or replay),
        )
        self.pipeline = SyncPipeline(
            "attio",
            progress,
            observer,
            failures=self.failures,
            concurrency=sync.concurrency,
            page_buffer=PAGE_BUFFER,
        )
        self._reads = asyncio.Semaphore(BRAINTREE_READS)

    async def execute(self) -> AttioSyncReport:
        steps = Steps[str, Op](
            attio_records="companies",
            read=self._read_people,
            load=self._load_companies,
            plan=self._plan_pages,
            write=self._write,
            failed=lambda op, error: self._fail(op.person, op.customer_id, error),
        )
        error, elapsed = await self.pipeline.execute(steps, dry_run=self.dry_run)
        return AttioSyncReport(
            dry_run=self.dry_run,
            counts=self.counts,
            elapsed_seconds=elapsed,
            error=error,
            plan=self.plan,
            failures=self.failures.reported,
        )

    # -- reading ------------------------------------------------------------------------------

    async def _people_pages(self) -> AsyncIterator[list[Record]]:
        size, offset = self.sync.page_size, 0
        while True:
            page = await self.sync.attio.query_records(
                PEOPLE, filter=WITH_CUSTOMER, limit=size, offset=offset
            )
            self.progress.attio_records += len(page)
            if page:
                yield page
            if len(page) < size:
                return
            offset += size

    async def _read_people(self, pages: asyncio.Queue[Message[str]]) -> None:
        await read_listings(pages, [(PEOPLE, self._people_pages)], after_error="stop")

    async def _load_companies(self) -> None:
        async for company in self.sync.attio.iter_records(COMPANIES):
            self.companies[record_id(company)] = company_name(company)
            self.progress.attio_records += 1
        self.pipeline.notify()

    # -- planning -----------------------------------------------------------------------------

    async def _plan_pages(
        self, pages: asyncio.Queue[Message[str]], enqueue: Enqueue[Op]
    ) -> str | None:
        error: BaseException | None = None
        while True:
            message = await pages.get()
            if isinstance(message, End):
                error = message.error
                break
            self.progress.people += len(message.items)
            customers = await asyncio.gather(
                *(self._customer_of(person) for person in message.items)
            )
            for person, customer in zip(message.items, customers, strict=True):
                await self._plan_one(person, customer, enqueue)
            self.pipeline.notify()
        self.progress.attio_complete = error is None
        self.pipeline.source_read()
        if error is not None:
            return f"could not read Attio's people completely: {describe(error)}"
        return None

    async def _customer_of(self, person: Record) -> Any | BaseException:
        """The person's Braintree customer, None when Braintree has none, or the error."""
        async with self._reads:
            try:
                customer = await self.sync.braintree.fetch_customer(
                    first_value(person, CUSTOMER_ID)
                )
            except Exception as exc:
                return exc
        self.progress.braintree_customers += customer is not None
        return customer

    async def _plan_one(self, person: Record, customer: Any, enqueue: Enqueue[Op]) -> None:
        person_id, customer_id = record_id(person), str(first_value(person, CUSTOMER_ID))
        if isinstance(customer, BaseException):
            await self._fail(person_id, customer_id, customer)
            return
        try:
            await self._know_company(person)
        except Exception as exc:
            await self._fail(person_id, customer_id, exc)
            return
        diff = self._diff(person, customer)
        if diff is None or not diff.send:
            self._unchanged(diff)
            await self.failures.settle(
                attio_sync_failure_event(person_id=person_id, customer_id=customer_id).event_key
            )
            return
        changed = tuple(sorted(diff.send))
        if self.dry_run:
            self.plan.append(PlannedUpdate(person_id, customer_id, changed))
            self.counts.of(GROUP).updated += 1
            return
        await enqueue(Op(person_id, customer_id, changed))

    def _diff(self, person: Record, customer: Any) -> CustomerDiff | None:
        """None when Braintree has no such customer (noted `missing`)."""
        if customer is None:
            log.warning("attio.sync.customer_missing", customer_id=first_value(person, CUSTOMER_ID))
            self.counts.note("missing")
            return None
        return compare(person, self._company_of(person), customer)

    async def _know_company(self, person: Record) -> None:
        """Read the person's company if the index lacks it (created after it was loaded)."""
        company_id = first_value(person, "company")
        if company_id and company_id not in self.companies:
            company = await self._get_or_none(COMPANIES, company_id)
            if company is not None:
                self.companies[company_id] = company_name(company)

    def _company_of(self, person: Record) -> CompanyName | None:
        company_id = first_value(person, "company")
        return self.companies.get(company_id) if company_id else None

    def _unchanged(self, diff: CustomerDiff | None) -> None:
        if diff is None:
            return
        if diff.kept:
            self.counts.note("kept")
        self.counts.of(GROUP).unchanged += 1

    # -- writing ------------------------------------------------------------------------------

    async def _write(self, op: Op) -> None:
        await self._apply(op.person)

    async def _apply(self, person_id: str) -> bool:
        """Read the person and their customer again, send what still differs and is newer."""
        person = await self._get_or_none(PEOPLE, person_id)
        customer_id = first_value(person, CUSTOMER_ID) if person else None
        if person is None or not customer_id:
            log.info("attio.sync.person_gone", person=person_id)
            self.counts.of(GROUP).unchanged += 1  # nothing left to send
            return False
        await self._know_company(person)
        customer = await self.sync.braintree.fetch_customer(str(customer_id))
        diff = self._diff(person, customer)
        if diff is None:
            return False
        if not diff.send:
            self._unchanged(diff)
        else:
            await self.sync.braintree.update_customer(str(customer_id), diff.send)
            self.counts.of(GROUP).updated += 1
            if diff.kept:
                self.counts.note("kept")
            log.info(
                "braintree.customer.updated",
                customer_id=customer_id,
                fields=sorted(diff.send),
                via="catch-up",
            )
        event = attio_sync_failure_event(person_id=person_id, customer_id=str(customer_id))
        await self.failures.settle(event.event_key)
        return True

    async def apply_one(self, person_id: str) -> bool:
        return await self._apply(person_id)

    async def _get_or_none(self, obj: str, rid: str) -> Record | None:
        try:
            return await self.sync.attio.get_record(obj, rid)
        except AttioNotFoundError:
            return None

    # -- failures -----------------------------------------------------------------------------

    async def _fail(self, person_id: str, customer_id: str | None, error: BaseException) -> None:
        self.counts.of(GROUP).failed += 1
        event = attio_sync_failure_event(person_id=person_id, customer_id=customer_id)

        def report(message: str) -> FailedCustomer:
            return FailedCustomer(person_id, customer_id, message, event.event_key)

        await self.failures.fail(
            event.event_key, event, error, report, person=person_id, customer_id=customer_id
        )


def company_name(company: Record) -> CompanyName:
    names = (company.get("values") or {}).get("name") or []
    current = next((v for v in names if v.get("active_until") is None), None)
    if current is None:
        return CompanyName(None, None)
    return CompanyName(current.get("value") or None, value_since(current))
