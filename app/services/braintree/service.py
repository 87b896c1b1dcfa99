"""Everything the bridge does with Braintree, assembled once per bridge (web process or CLI).

The notification handlers and the sync share one set of record locks and one service
catalogue, so a run and the webhooks it races never interleave on a record; the sync runner
keeps one run at a time across processes and records each run in Attio.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from app.clients.attio import AttioClient
from app.clients.braintree import BraintreeClient
from app.errors import BridgeError, MalformedPayloadError
from app.events.dispatcher import Dispatcher
from app.events.ledger import Ledger
from app.events.model import Source, WebhookEvent
from app.events.sources.braintree_sync import BRAINTREE_SYNC_EVENT_TYPE
from app.services.braintree.billing import Billing
from app.services.braintree.catalogue import ServiceCatalogue
from app.services.braintree.companies import DEFAULT_DELAY, CompanyRollup, EventsWaiting
from app.services.braintree.handlers import BraintreeHandlers
from app.services.braintree.sync.engine import DEFAULT_OVERLAP, BraintreeSync, Observer, utcnow
from app.services.braintree.sync.report import BraintreeSyncProgress, BraintreeSyncReport
from app.services.braintree.sync.verify import MrrCheck, verify_mrr
from app.services.braintree.transforms import (
    DISPUTE_KINDS,
    LOCAL_PAYMENT_KINDS,
    SUBSCRIPTION_KINDS,
    TRANSACTION_KINDS,
)
from app.services.fx import Converter, ExchangeRates
from app.services.locks import KeyedLocks
from app.services.syncrunner import SyncAlreadyRunningError, SyncRun, SyncRunner
from app.services.syncstate import SyncLock, SyncStateStore


class BraintreeNotConfiguredError(BridgeError):
    status_code = 503
    code = "braintree_not_configured"


class BraintreeService:
    def __init__(
        self,
        attio: AttioClient,
        braintree: BraintreeClient | None,
        *,
        payments_object: bool = True,
        ledger: Ledger | None = None,
        sync_lock: SyncLock | None = None,
        sync_state: SyncStateStore | None = None,
        sync_overlap: timedelta = DEFAULT_OVERLAP,
        reporting_currency: str = "USD",
        rates: Converter | None = None,
        company_delay: float = DEFAULT_DELAY,
        events_waiting: EventsWaiting | None = None,
    ) -> None:
        self._attio = attio
        self._braintree = braintree
        self._ledger = ledger
        self._payments = payments_object  # False: payments live on their subscription
        self._locks = KeyedLocks(
            "braintree", redis=attio.shared_redis, ttl_seconds=attio.shared_lock_ttl_seconds
        )
        self._catalogue = ServiceCatalogue(attio)
        # Company summaries coalesce across processes through the Attio client's Redis.
        self.companies = CompanyRollup(
            attio, delay=company_delay, redis=attio.shared_redis, events_waiting=events_waiting
        )
        self.billing = Billing(
            attio,
            braintree,
            reporting_currency=reporting_currency,
            rates=rates or ExchangeRates(),
            companies=self.companies,
            locks=self._locks,
            ledger=ledger,
        )
        self.handlers = BraintreeHandlers(
            attio,
            braintree,
            payments_object=payments_object,
            locks=self._locks,
            catalogue=self._catalogue,
            billing=self.billing,
        )
        self.sync_runner = SyncRunner("braintree", lock=sync_lock, state=sync_state)
        self.sync_overlap = sync_overlap

    async def start(self) -> None:
        """The exchange-rate table, read now (off the event loop) rather than by the first
        notification (it takes a noticeable moment), and the company recomputes' poller."""
        if self._braintree is not None:
            await self.billing.load_rates()
            self.companies.start()

    async def recount_companies(self, company_ids: list[str]) -> None:
        """A paying person joined or left these companies (seen in Attio): recompute them."""
        await self.companies.changed(*company_ids)

    def register(self, dispatcher: Dispatcher) -> None:
        handlers = self.handlers
        dispatcher.register(Source.braintree, SUBSCRIPTION_KINDS, handlers.on_subscription)
        for kind in TRANSACTION_KINDS:
            dispatcher.register(Source.braintree, kind, handlers.on_transaction)
        dispatcher.register(Source.braintree, LOCAL_PAYMENT_KINDS, handlers.on_transaction)
        dispatcher.register(Source.braintree, DISPUTE_KINDS, handlers.on_dispute)
        dispatcher.register(Source.braintree, BRAINTREE_SYNC_EVENT_TYPE, self.on_sync_record)

    # -- the sync ----------------------------------------------------------------------------

    def new_sync(self, *, concurrency: int | None = None) -> BraintreeSync:
        """A sync sharing the handlers' locks and catalogue (and the Attio client's limiter),
        so a run and the webhooks it races never interleave on a record."""
        if self._braintree is None:
            raise BraintreeNotConfiguredError(
                "Braintree API credentials are not configured (BRAINTREE_MERCHANT_ID, ...)"
            )
        options = {"concurrency": concurrency} if concurrency else {}
        return BraintreeSync(
            self._attio,
            self._braintree,
            self._ledger,
            payments_object=self._payments,
            locks=self._locks,
            catalogue=self._catalogue,
            billing=self.billing,
            **options,
        )

    async def sync_window(self, since: datetime | None) -> datetime | None:
        """`since` if given, else the watermark less the overlap, else None (everything)."""
        if since is not None:
            return since
        state = await self.sync_runner.load_state()
        if state is None or state.watermark is None:
            return None
        return state.watermark - self.sync_overlap

    async def start_sync(self, *, since: datetime | None = None, dry_run: bool = False) -> SyncRun:
        """A run in the background (the admin API); 409 when one runs anywhere."""
        sync = self.new_sync()
        if self.sync_runner.running:  # refused before any Attio call
            raise SyncAlreadyRunningError("A braintree sync is already running")
        started, window = utcnow(), await self.sync_window(since)
        progress = BraintreeSyncProgress(dry_run=dry_run, since=window)

        async def job() -> BraintreeSyncReport:
            return await sync.run(since=window, dry_run=dry_run, progress=progress)

        return await self.sync_runner.start(job, progress, since=window, watermark=started)

    async def run_sync(
        self,
        *,
        since: datetime | None = None,
        dry_run: bool = False,
        observer: Observer | None = None,
        concurrency: int | None = None,
    ) -> SyncRun:
        """A run here, to the end (the CLI and the cron job)."""
        sync = self.new_sync(concurrency=concurrency)
        started, window = utcnow(), await self.sync_window(since)
        progress = BraintreeSyncProgress(dry_run=dry_run, since=window)

        async def job() -> BraintreeSyncReport:
            return await sync.run(
                since=window, dry_run=dry_run, observer=observer, progress=progress
            )

        return await self.sync_runner.run(job, progress, since=window, watermark=started)

    async def verify_mrr(self) -> MrrCheck:
        """The MRR check over Attio's people, subscriptions and companies (`--verify`)."""
        return await verify_mrr(self._attio)

    async def on_sync_record(self, event: WebhookEvent) -> None:
        """A record an earlier run failed to write: fetched from Braintree again and applied."""
        payload = event.payload if isinstance(event.payload, dict) else {}
        kind, object_id = payload.get("kind"), payload.get("id")
        if not isinstance(kind, str) or not isinstance(object_id, str):
            raise MalformedPayloadError("Braintree sync record names no object")
        await self.new_sync().apply_one(kind, object_id)

    async def aclose(self) -> None:
        await self.companies.aclose()  # the final company writes of a burst are never lost
        await self.sync_runner.aclose()
