"""The Zoho → Attio services sync: backfill and reconciliation in one diff-based run.

1. Read every Attio `services` record (pages of 500) into a small comparable index while the
   first Zoho pages are already being fetched.
2. For each Zoho record as its page arrives (Books/Inventory items, then CRM products when
   CRM is configured; see `catalogues.py`): compare with the index and queue a write only
   when something differs (create or update). Zoho's last-modified time guards against
   overwriting a newer version a webhook wrote meanwhile.
3. Once a catalogue has been read completely (and only then), its records that vanished from
   Zoho are marked inactive, after Zoho confirms the record is gone.

The reading, the worker pool and the ledger of failed items are the shared sync pipeline's
(`app.services.syncpipeline`): writes run at Attio's limit while webhooks share that budget. A
failed item is recorded in `bridge_events` and the run goes on; a failure to read either side
aborts the run before anything is deactivated.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from app.clients.attio import DEFAULT_PAGE_SIZE, AttioClient
from app.clients.zoho import ItemsSource, ZohoClient
from app.errors import describe
from app.events.ledger import Ledger
from app.events.model import Source
from app.events.sources.zoho_sync import (
    SYNC_EVENT_TYPE,
    event_for_entry,
    item_id_from_key,
    sync_failure_event,
)
from app.log import get_logger
from app.schema import SERVICE_KEY, SERVICES
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
from app.services.zoho.model import ServiceState, StoredService, ZohoOrigin
from app.services.zoho.sync.catalogues import Catalogue, ItemsCatalogue
from app.services.zoho.sync.report import (
    FailedItem,
    OpKind,
    Outcome,
    PlannedWrite,
    SyncProgress,
    SyncReport,
)
from app.services.zoho.transforms import (
    attio_values,
    changed_attributes,
    is_stale,
    stored_service,
)

log = get_logger(__name__)

PAGE_BUFFER = 4  # Zoho pages held for the planner (200 items each)
# Zoho pages requested at once: paging one round trip at a time dominated reconciliations.
ZOHO_READ_AHEAD = 4
Observer = Callable[[SyncProgress], None]


@dataclass(frozen=True)
class SyncOp:
    kind: OpKind
    catalogue: Catalogue
    desired: ServiceState
    changed: tuple[str, ...]
    current: ServiceState | None = None
    confirm_gone: bool = False  # a deactivation Zoho has not yet confirmed

    @property
    def version(self) -> str:
        if self.kind is OpKind.deactivate:
            return "vanished"
        moment = self.desired.zoho_last_modified_at
        return moment.isoformat() if moment else "unknown"


class ZohoServicesSync:
    def __init__(
        self,
        attio: AttioClient,
        zoho: ZohoClient,
        ledger: Ledger | None,
        *,
        source: ItemsSource = ItemsSource.books,
        catalogues: tuple[Catalogue, ...] | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        confirm_vanished: bool = True,
        attio_page_size: int = DEFAULT_PAGE_SIZE,
        zoho_read_ahead: int = ZOHO_READ_AHEAD,
    ) -> None:
        self.attio = attio
        self.zoho = zoho
        self.ledger = ledger
        # `source` alone: the items catalogue of that app, as before CRM products were synced.
        self.catalogues = catalogues or (ItemsCatalogue(ItemsSource(source)),)
        self.label = "+".join(c.origin.value for c in self.catalogues)
        self.concurrency = max(1, concurrency)
        self.confirm_vanished = confirm_vanished
        self.attio_page_size = attio_page_size
        self.zoho_read_ahead = zoho_read_ahead

    async def run(
        self,
        *,
        dry_run: bool = False,
        observer: Observer | None = None,
        progress: SyncProgress | None = None,
    ) -> SyncReport:
        """One complete run. `progress` (optional) is updated live for others to read."""
        progress = progress or SyncProgress(source=self.label, dry_run=dry_run)
        return await _Run(self, dry_run, progress, observer).execute()


class _Run:
    def __init__(
        self,
        sync: ZohoServicesSync,
        dry_run: bool,
        progress: SyncProgress,
        observer: Observer | None,
    ) -> None:
        self.sync = sync
        self.dry_run = dry_run
        self.progress = progress
        self.index: dict[str, StoredService] = {}
        self.seen: dict[str, ZohoOrigin | None] = {}  # zoho_item_id -> the catalogue it came from
        self.plan: list[PlannedWrite] = []
        self.failures = FailureBook[FailedItem](
            "zoho",
            sync.ledger,
            source=Source.zoho,
            event_type=SYNC_EVENT_TYPE,
            subject_of=lambda entry: item_id_from_key(entry.event_key),
            rebuild=event_for_entry,
            record=not dry_run,
            failed_event="item_failed",
        )
        self.pipeline = SyncPipeline(
            "zoho",
            progress,
            observer,
            failures=self.failures,
            concurrency=sync.concurrency,
            page_buffer=PAGE_BUFFER,
        )

    async def execute(self) -> SyncReport:
        steps = Steps[Catalogue, SyncOp](
            attio_records="services",
            read=self._read_zoho,
            load=self._load_attio,
            plan=self._plan,
            write=self._execute,
            failed=self._failed,
        )
        error, elapsed = await self.pipeline.execute(
            steps, source=self.sync.label, dry_run=self.dry_run
        )
        return SyncReport(
            source=self.sync.label,
            dry_run=self.dry_run,
            counts=self.progress.counts,
            elapsed_seconds=elapsed,
            error=error,
            plan=self.plan,
            failures=self.failures.reported,
        )

    async def _plan(
        self, pages: asyncio.Queue[Message[Catalogue]], enqueue: Enqueue[SyncOp]
    ) -> str | None:
        """Plan every record, then the deactivations of each catalogue read completely."""
        errors = await self._plan_items(pages, enqueue)
        for catalogue in self.sync.catalogues:
            if catalogue not in errors:
                await self._plan_deactivations(catalogue, enqueue)
        if not errors:
            return None
        return "; ".join(
            f"could not read every Zoho {c.origin.value} record (of those, nothing deactivated): "
            f"{describe(error)}"
            for c, error in errors.items()
        )

    # -- reading -----------------------------------------------------------------------------

    async def _read_zoho(self, pages: asyncio.Queue[Message[Catalogue]]) -> None:
        """Each catalogue in turn (one failing does not stop the next), then one `End` each."""
        zoho, read_ahead = self.sync.zoho, self.sync.zoho_read_ahead

        def listing(catalogue: Catalogue) -> Listing[Catalogue]:
            return catalogue, lambda: catalogue.pages(zoho, read_ahead=read_ahead)

        listings = [listing(catalogue) for catalogue in self.sync.catalogues]
        await read_listings(pages, listings, after_error="go_on")

    async def _load_attio(self) -> None:
        async for record in self.sync.attio.iter_records(
            SERVICES, page_size=self.sync.attio_page_size
        ):
            # Keep only the comparable form: a full record is kilobytes of value history.
            stored = stored_service(record)
            if stored is not None:
                self.index[stored.state.zoho_item_id] = stored
            self.progress.attio_records += 1
            if self.progress.attio_records % self.sync.attio_page_size == 0:
                self.pipeline.notify()
        self.pipeline.notify()

    # -- planning ----------------------------------------------------------------------------

    async def _plan_items(
        self, pages: asyncio.Queue[Message[Catalogue]], enqueue: Enqueue[SyncOp]
    ) -> dict[Catalogue, BaseException]:
        """Plan every record read; the catalogues that could not be read completely."""
        errors: dict[Catalogue, BaseException] = {}
        ended = 0
        while ended < len(self.sync.catalogues):
            message = await pages.get()
            if isinstance(message, End):
                ended += 1
                if message.error is not None:
                    errors[message.listing] = message.error
                continue
            for record in message.items:
                self.progress.zoho_items += 1
                if op := await self._plan_item(message.listing, record):
                    await enqueue(op)
            self.pipeline.notify()
        self.progress.zoho_complete = not errors
        self.pipeline.source_read()
        return errors

    async def _plan_item(self, catalogue: Catalogue, record: dict[str, Any]) -> SyncOp | None:
        try:
            desired = catalogue.service(record)
        except Exception as exc:
            listed_id = record.get(catalogue.id_field)
            item_id = str(listed_id or "unknown")
            if listed_id:
                if item_id in self.seen:
                    return None
                # Listed, so not vanished: claimed here, neither deactivated nor failed twice.
                self.seen[item_id] = catalogue.origin
                self.index.pop(item_id, None)
            await self._fail(catalogue, item_id, None, "invalid", exc)
            return None
        item_id = desired.zoho_item_id
        if item_id in self.seen:
            # Listed twice: the list shifted while paging, or two Zoho apps share an id (the
            # catalogue read first keeps the record, so a run never writes it twice).
            if desired.zoho_source is not self.seen[item_id]:
                log.warning(
                    "zoho.sync.id_in_two_sources",
                    zoho_item_id=item_id,
                    kept=self.seen[item_id],
                    skipped=desired.zoho_source,
                )
            return None
        self.seen[item_id] = desired.zoho_source
        stored = self.index.pop(item_id, None)
        return self._diff(catalogue, desired, stored.state if stored else None)

    def _diff(
        self, catalogue: Catalogue, desired: ServiceState, current: ServiceState | None
    ) -> SyncOp | None:
        if is_stale(desired, current):
            # A webhook wrote a newer version after this page was read.
            log.info("zoho.sync.stale_skipped", zoho_item_id=desired.zoho_item_id)
            self._tally(catalogue, "unchanged")
            return None
        changed = changed_attributes(desired, current)
        if not changed:
            self._tally(catalogue, "unchanged")
            return None
        kind = OpKind.create if current is None else OpKind.update
        return SyncOp(kind, catalogue, desired, changed, current)

    async def _plan_deactivations(self, catalogue: Catalogue, enqueue: Enqueue[SyncOp]) -> None:
        """Active records of this catalogue whose record Zoho no longer lists."""
        for stored in self.index.values():
            state = stored.state
            owned = state.zoho_source is catalogue.origin or (
                state.zoho_source is None and catalogue.claims_unsourced
            )
            if state.active and owned:
                op = SyncOp(
                    OpKind.deactivate,
                    catalogue,
                    state.deactivated(),
                    ("status",),
                    state,
                    confirm_gone=self.sync.confirm_vanished,
                )
                await enqueue(op)

    def _tally(self, catalogue: Catalogue, outcome: Outcome) -> None:
        self.progress.tally(catalogue.origin.value, outcome)

    # -- writing -----------------------------------------------------------------------------

    async def _execute(self, op: SyncOp) -> None:
        if op.confirm_gone:
            confirmed = await self._confirm_gone(op)
            if confirmed is None:  # still in Zoho and unchanged (already counted)
                return
            op = confirmed
        if self.dry_run:
            self.plan.append(
                PlannedWrite(
                    op.kind,
                    op.desired.zoho_item_id,
                    op.desired.name,
                    op.changed,
                    source=op.catalogue.origin.value,
                )
            )
            self._tally(op.catalogue, op.kind)
            return
        await self.sync.attio.assert_record(
            SERVICES,
            matching_attribute=SERVICE_KEY,
            values=attio_values(op.desired, op.changed),
        )
        self._tally(op.catalogue, op.kind)
        await self.failures.settle(op.desired.zoho_item_id)

    async def _confirm_gone(self, op: SyncOp) -> SyncOp | None:
        """Ask Zoho for the record itself: a list read while records were deleted can skip one."""
        record = await op.catalogue.fetch(self.sync.zoho, op.desired.zoho_item_id)
        if record is None:
            return replace(op, confirm_gone=False)
        return self._diff(op.catalogue, op.catalogue.service(record), op.current)

    # -- failures ----------------------------------------------------------------------------

    async def _failed(self, op: SyncOp, error: Exception) -> None:
        await self._fail(op.catalogue, op.desired.zoho_item_id, op.kind, op.version, error)

    async def _fail(
        self,
        catalogue: Catalogue,
        item_id: str,
        kind: OpKind | None,
        version: str,
        error: BaseException,
    ) -> None:
        source = catalogue.origin.value
        self._tally(catalogue, "failed")
        event = sync_failure_event(
            zoho_item_id=item_id,
            source=source,
            version=version,
            operation=kind.value if kind else None,
        )

        def report(message: str) -> FailedItem:
            return FailedItem(item_id, kind, message, event.event_key, source)

        await self.failures.fail(item_id, event, error, report, zoho_item_id=item_id, op=kind)
