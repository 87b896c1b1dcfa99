"""The Zoho catalogues a sync reads into `services`: Books or Inventory items, CRM products.

Each says how to list its records, how to fetch one again (to confirm a vanished record and
to retry a failed one) and how a record becomes a `ServiceState`: with the same transform
its webhook or notification path uses, so a sync writes exactly what that path would.

All share one `services` object keyed by `zoho_item_id`: Zoho's ids are long numbers unique
across its apps, and `zoho_source` says which app a record mirrors. A run deactivates only
the records of a catalogue it read completely; records without a `zoho_source` (written
before the attribute existed) belong to the items catalogue.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any, Protocol

from app.clients.zoho import ItemsSource, ZohoClient
from app.services.zoho.model import ServiceState, ZohoOrigin
from app.services.zoho.transforms import service_from_crm_product, service_from_item


class Catalogue(Protocol):
    @property
    def origin(self) -> ZohoOrigin: ...

    @property
    def id_field(self) -> str: ...

    @property
    def claims_unsourced(self) -> bool: ...

    def pages(self, zoho: ZohoClient, *, read_ahead: int) -> AsyncGenerator[list[dict[str, Any]]]:
        """Every record, a page at a time."""
        ...

    async def fetch(self, zoho: ZohoClient, record_id: str) -> dict[str, Any] | None:
        """One record as Zoho holds it now, or None when Zoho no longer has it."""
        ...

    def service(self, record: dict[str, Any]) -> ServiceState: ...


@dataclass(frozen=True)
class ItemsCatalogue:
    source: ItemsSource = ItemsSource.books
    id_field: str = "item_id"
    claims_unsourced: bool = True

    @property
    def origin(self) -> ZohoOrigin:
        return ZohoOrigin(ItemsSource(self.source).value)

    def pages(self, zoho: ZohoClient, *, read_ahead: int) -> AsyncGenerator[list[dict[str, Any]]]:
        return zoho.iter_item_pages(self.source, read_ahead=read_ahead)

    async def fetch(self, zoho: ZohoClient, record_id: str) -> dict[str, Any] | None:
        return await zoho.get_item(self.source, record_id)

    def service(self, record: dict[str, Any]) -> ServiceState:
        return service_from_item(record, self.origin)


@dataclass(frozen=True)
class CrmProductsCatalogue:
    id_field: str = "id"
    claims_unsourced: bool = False

    @property
    def origin(self) -> ZohoOrigin:
        return ZohoOrigin.crm

    def pages(self, zoho: ZohoClient, *, read_ahead: int) -> AsyncGenerator[list[dict[str, Any]]]:
        # CRM hands out each page token with the page before it: no reading ahead.
        return zoho.iter_crm_product_pages()

    async def fetch(self, zoho: ZohoClient, record_id: str) -> dict[str, Any] | None:
        return await zoho.get_crm_product(record_id)

    def service(self, record: dict[str, Any]) -> ServiceState:
        return service_from_crm_product(record)


def catalogues_for(
    items_source: ItemsSource, *, items: bool = True, crm: bool = False
) -> tuple[Catalogue, ...]:
    """The catalogues of a run, items first (at least one: items when nothing else is on)."""
    chosen: list[Catalogue] = []
    if items or not crm:
        chosen.append(ItemsCatalogue(ItemsSource(items_source)))
    if crm:
        chosen.append(CrmProductsCatalogue())
    return tuple(chosen)


def catalogue_named(name: object, default: Catalogue) -> Catalogue:
    """The catalogue a ledger record names by its `source` (`books`, `inventory`, `crm`)."""
    if name == ZohoOrigin.crm.value:
        return CrmProductsCatalogue()
    try:
        return ItemsCatalogue(ItemsSource(str(name)))
    except ValueError:
        return default
