"""Everything the bridge does with Attio's own events, assembled once per bridge.

The record-event handlers (CRM edits that reach Braintree, merges, deletions, replays asked
for in Attio) and the Attio → Braintree catch-up, whose runner keeps one run at a time across
processes and records each run in Attio.
"""

from __future__ import annotations

from app.clients.attio import AttioClient
from app.clients.braintree import BraintreeClient
from app.errors import BridgeError, MalformedPayloadError, describe
from app.events.dispatcher import Dispatcher
from app.events.ledger import Ledger
from app.events.model import Source, WebhookEvent
from app.events.sources.attio_sync import ATTIO_SYNC_EVENT_TYPE
from app.log import get_logger
from app.services.attio.handlers import BILLING_OBJECTS, AttioEventService, CompanyRecount
from app.services.attio.replays import ReplayRequests
from app.services.attio.sync.engine import AttioCatchUp, Observer
from app.services.attio.sync.report import AttioSyncProgress, AttioSyncReport
from app.services.syncrunner import SyncAlreadyRunningError, SyncRun, SyncRunner
from app.services.syncstate import SyncLock, SyncStateStore

log = get_logger(__name__)


class AttioToBraintreeOffError(BridgeError):
    status_code = 503
    code = "attio_to_braintree_off"


class AttioService:
    def __init__(
        self,
        attio: AttioClient,
        ledger: Ledger,
        braintree: BraintreeClient | None,
        *,
        billing_objects: tuple[str, ...] = BILLING_OBJECTS,
        replays: ReplayRequests | None = None,
        recount_companies: CompanyRecount | None = None,
        sync_lock: SyncLock | None = None,
        sync_state: SyncStateStore | None = None,
    ) -> None:
        self._attio = attio
        self._ledger = ledger
        self._braintree = braintree  # None: CRM edits do not reach Braintree
        self.events = AttioEventService(
            attio,
            ledger,
            braintree,
            billing_objects=billing_objects,
            replays=replays,
            recount_companies=recount_companies,
        )
        self.sync_runner = SyncRunner("attio", lock=sync_lock, state=sync_state)

    def register(self, dispatcher: Dispatcher) -> None:
        self.events.register(dispatcher)
        dispatcher.register(Source.attio, ATTIO_SYNC_EVENT_TYPE, self.on_sync_record)

    # -- the catch-up ------------------------------------------------------------------------

    def new_sync(self, *, concurrency: int | None = None) -> AttioCatchUp:
        if self._braintree is None:
            raise AttioToBraintreeOffError(
                "Attio edits do not reach Braintree here: Braintree API credentials are not "
                "configured, or ATTIO_TO_BRAINTREE_SYNC is off"
            )
        options = {"concurrency": concurrency} if concurrency else {}
        return AttioCatchUp(self._attio, self._braintree, self._ledger, **options)

    async def start_sync(self, *, dry_run: bool = False) -> SyncRun:
        """A run in the background (the admin API, watch's hook); 409 when one runs anywhere."""
        sync = self.new_sync()
        if self.sync_runner.running:  # refused before any Attio call
            raise SyncAlreadyRunningError("An attio sync is already running")
        progress = AttioSyncProgress(dry_run=dry_run)

        async def job() -> AttioSyncReport:
            return await sync.run(dry_run=dry_run, progress=progress)

        return await self.sync_runner.start(job, progress)

    async def run_sync(
        self,
        *,
        dry_run: bool = False,
        observer: Observer | None = None,
        concurrency: int | None = None,
    ) -> SyncRun:
        """A run here, to the end (the CLI and the cron job)."""
        sync = self.new_sync(concurrency=concurrency)
        progress = AttioSyncProgress(dry_run=dry_run)

        async def job() -> AttioSyncReport:
            return await sync.run(dry_run=dry_run, observer=observer, progress=progress)

        return await self.sync_runner.run(job, progress)

    async def catch_up(self) -> None:
        """Watch's hook when the Attio webhook is back: start a catch-up in the background.
        A run already going (here or in another process) covers it."""
        try:
            run = await self.start_sync()
        except SyncAlreadyRunningError:
            log.info("attio.sync.catch_up_skipped", reason="a run is already going")
        except AttioToBraintreeOffError:
            log.info("attio.sync.catch_up_skipped", reason="Attio edits do not reach Braintree")
        except Exception as exc:  # the lock could not be taken: the daily run repairs it
            log.warning("attio.sync.catch_up_failed", error=describe(exc))
        else:
            log.info("attio.sync.catch_up_started", run_id=run.run_id)

    async def on_sync_record(self, event: WebhookEvent) -> None:
        """A person an earlier catch-up failed on: read again and brought in step."""
        payload = event.payload if isinstance(event.payload, dict) else {}
        person_id = payload.get("person")
        if not isinstance(person_id, str) or not person_id:
            raise MalformedPayloadError("Attio sync record names no person")
        await self.new_sync().apply_one(person_id)

    async def aclose(self) -> None:
        await self.sync_runner.aclose()
