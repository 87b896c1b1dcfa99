"""Everything the bridge does with Zoho, assembled once per bridge (web process or CLI)."""

from __future__ import annotations

from collections.abc import Callable

from app.clients.attio import AttioClient
from app.clients.zoho import ItemsSource, ZohoClient
from app.events.dispatcher import Dispatcher
from app.events.ledger import Ledger
from app.events.model import Source
from app.events.sources.zoho_sync import SYNC_EVENT_TYPE
from app.services.syncpipeline import DEFAULT_CONCURRENCY
from app.services.syncrunner import SyncRun, SyncRunner
from app.services.syncstate import SyncLock, SyncStateStore
from app.services.zoho.handlers import ZohoHandlers
from app.services.zoho.sync.catalogues import catalogues_for
from app.services.zoho.sync.engine import ZohoServicesSync
from app.services.zoho.sync.runner import start_zoho_sync
from app.services.zoho.writer import ServiceWriter

ITEM_EVENT_TYPE = "item"  # Books/Inventory webhooks wrap the record as {"item": {...}}
CRM_PRODUCT_EVENTS = "crm.Products.*"


class ZohoService:
    def __init__(
        self,
        *,
        attio: AttioClient,
        ledger: Ledger,
        items_source: ItemsSource,
        zoho_factory: Callable[[], ZohoClient],
        crm_products: bool = False,
        sync_lock: SyncLock | None = None,
        sync_state: SyncStateStore | None = None,
    ) -> None:
        self.attio = attio
        self.ledger = ledger
        self.items_source = ItemsSource(items_source)
        self.crm_products = crm_products
        self.writer = ServiceWriter(attio)
        self._zoho_factory = zoho_factory
        self._zoho: ZohoClient | None = None
        self.handlers = ZohoHandlers(self.writer, self.zoho, self.items_source)
        self.sync_runner = SyncRunner("zoho", lock=sync_lock, state=sync_state)

    def zoho(self) -> ZohoClient:
        """The process's Zoho client, created on first use (one token cache, one limiter)."""
        if self._zoho is None:
            self._zoho = self._zoho_factory()
        return self._zoho

    def use_zoho_client(self, client: ZohoClient) -> None:
        self._zoho = client

    def new_sync(
        self, zoho: ZohoClient | None = None, *, concurrency: int = DEFAULT_CONCURRENCY
    ) -> ZohoServicesSync:
        """A run over the items of `items_source`, CRM products (when CRM is configured), or
        both: a CRM-only setup has no organization for Books/Inventory to read."""
        client = zoho or self.zoho()
        catalogues = catalogues_for(
            self.items_source, items=bool(client.organization_id), crm=self.crm_products
        )
        # The bridge's Attio client: its write limiter is shared with webhook processing.
        return ZohoServicesSync(
            self.attio, client, self.ledger, catalogues=catalogues, concurrency=concurrency
        )

    async def start_sync(self, *, dry_run: bool = False) -> SyncRun:
        """A background run (the admin API); fails now when Zoho is not configured."""
        return await start_zoho_sync(self.sync_runner, self.new_sync(), dry_run=dry_run)

    def register(self, dispatcher: Dispatcher) -> None:
        dispatcher.register(Source.zoho, ITEM_EVENT_TYPE, self.handlers.item)
        dispatcher.register(Source.zoho, CRM_PRODUCT_EVENTS, self.handlers.crm_product)
        dispatcher.register(Source.zoho, SYNC_EVENT_TYPE, self.handlers.sync_item)

    async def aclose(self) -> None:
        await self.sync_runner.aclose()
        if self._zoho is not None:
            await self._zoho.aclose()
