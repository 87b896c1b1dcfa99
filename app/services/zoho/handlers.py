"""Dispatcher handlers for Zoho events: item webhooks, CRM notifications, sync replays.

Each raises to fail (the processor records the event in the ledger); a body that can never
work raises `MalformedPayloadError`, which makes the record dead instead of retried.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from app.clients.zoho import ItemsSource, ZohoClient
from app.errors import MalformedPayloadError
from app.events.model import WebhookEvent
from app.events.sources.zoho import ACTION_PARAM, DELETE_ACTIONS
from app.log import get_logger
from app.services.zoho.model import ServiceState, ZohoOrigin
from app.services.zoho.sync.catalogues import ItemsCatalogue, catalogue_named
from app.services.zoho.transforms import (
    parse_zoho_timestamp,
    service_from_crm_product,
    service_from_item,
)
from app.services.zoho.writer import ServiceWriter

log = get_logger(__name__)

CRM_MODULE = "Products"


def _record(event: WebhookEvent) -> dict[str, Any]:
    if not isinstance(event.payload, dict):
        raise MalformedPayloadError(f"{event.event_type} event carries no record")
    return event.payload


def _item_id(record: dict[str, Any], key: str) -> str:
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, str | int) or not str(value).strip():
        raise MalformedPayloadError(f"Zoho record has no `{key}`")
    return str(value).strip()


def is_deletion(event: WebhookEvent) -> bool:
    """A deletion webhook: `?action=deleted` on the URL, or `"deleted": true` in the record."""
    # The source refused any other URL parameter (see `ACTION_PARAM`).
    query = dict(parse_qsl(event.raw.query, keep_blank_values=True))
    if query.get(ACTION_PARAM, "").strip().lower() in DELETE_ACTIONS:
        return True
    flag = _record(event).get("deleted")
    return flag is True or (isinstance(flag, str) and flag.strip().lower() == "true")


# The Default Payload carries every field of the item; a custom or form body may carry only
# some, and writing those would clear the rest in Attio.
COMPLETE_ITEM_KEYS = frozenset({"name", "status", "rate"})


def is_complete_item(record: dict[str, Any]) -> bool:
    return record.keys() >= COMPLETE_ITEM_KEYS


def has_modified_time(record: dict[str, Any]) -> bool:
    """Whether the record says when Zoho last changed it (Zoho's item schemas do not promise it)."""
    modified = record.get("last_modified_time") or record.get("updated_time")
    return parse_zoho_timestamp(modified) is not None


class ZohoHandlers:
    def __init__(
        self,
        writer: ServiceWriter,
        zoho: Callable[[], ZohoClient],
        items_source: ItemsSource,
    ) -> None:
        self._writer = writer
        self._zoho = zoho  # created on first use: most deliveries never need the API
        self._source = ItemsSource(items_source)

    async def item(self, event: WebhookEvent) -> None:
        """A signed Books/Inventory item webhook: assert the item, or mark it inactive."""
        record = _record(event)
        item_id = _item_id(record, "item_id")
        origin = ZohoOrigin(self._source.value)
        if is_deletion(event):
            if is_complete_item(record):
                # The deletion carries the item's last content: write it, inactive. Skipping
                # it would lose an edit whose own delivery failed and is replayed later (the
                # deletion's newer time makes that replay stale).
                await self._writer.apply(service_from_item(record, origin).deactivated())
            else:
                await self._writer.deactivate(item_id, modified_at=event.occurred_at)
            return
        if not is_complete_item(record) or not has_modified_time(record):
            # Without Zoho's time the stale guard cannot order this delivery: write what Zoho
            # holds now instead of what the (possibly late) body says.
            await self._writer.apply_fetched(item_id, lambda: self._fetch_item(item_id, origin))
            return
        await self._writer.apply(service_from_item(record, origin))

    async def _fetch_item(self, item_id: str, origin: ZohoOrigin) -> ServiceState | None:
        item = await self._zoho().get_item(self._source, item_id)
        return None if item is None else service_from_item(item, origin)

    async def crm_product(self, event: WebhookEvent) -> None:
        """A CRM notification: fetch the product from Zoho and write only what Zoho answers.

        The notification proves only that its sender knows the channel's token, and a replay's
        stored body could have been edited, so neither its `operation` nor its `server_time`
        decides anything: a deletion counts once Zoho no longer has the product.
        """
        payload = _record(event)
        if payload.get("module") != CRM_MODULE:
            log.info("zoho.crm.module_ignored", module=payload.get("module"))
            return
        product_id = _item_id(payload, "id")
        product = await self._zoho().get_crm_product(product_id)
        if product is None:
            # No new time stamp: the product's last `Modified_Time` stays, so a restore from
            # Zoho's recycle bin (the same id) is not mistaken for an older version.
            await self._writer.deactivate(product_id)
            return
        if str(payload.get("operation", "")).lower() == "delete":
            log.warning("zoho.crm.delete_unconfirmed", zoho_item_id=product_id)
        await self._writer.apply(service_from_crm_product(product))

    async def sync_item(self, event: WebhookEvent) -> None:
        """Replay of a failed sync record: re-fetch it from Zoho (the Books/Inventory item or
        the CRM product its `source` names), never trust the stored body."""
        payload = _record(event)
        item_id = _item_id(payload, "zoho_item_id")
        catalogue = catalogue_named(payload.get("source"), ItemsCatalogue(self._source))
        record = await catalogue.fetch(self._zoho(), item_id)
        if record is None:
            await self._writer.deactivate(item_id)
            return
        await self._writer.apply(catalogue.service(record))
