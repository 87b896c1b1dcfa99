"""A service offering as the bridge compares it: one Zoho item, or one Attio `services` record.

Both sides are reduced to the same small value object, so "does Attio already hold this?" is an
equality check per attribute and a sync holds a few hundred bytes per record, not Attio's full
value history.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

# Attributes of `services` the bridge owns, in the order they are compared and written.
SERVICE_ATTRIBUTES: tuple[str, ...] = (
    "name",
    "sku",
    "description",
    "rate",
    "unit",
    "product_type",
    "status",
    "zoho_source",
    "zoho_last_modified_at",
)
PRODUCT_TYPES = frozenset({"goods", "service", "digital_service"})


class ServiceStatus(StrEnum):
    active = "active"
    inactive = "inactive"


class ZohoOrigin(StrEnum):
    """The `zoho_source` select: which Zoho app the record mirrors."""

    books = "books"
    inventory = "inventory"
    crm = "crm"


@dataclass(frozen=True)
class ServiceState:
    zoho_item_id: str
    name: str | None = None
    sku: str | None = None
    description: str | None = None
    rate: Decimal | None = None
    unit: str | None = None
    product_type: str | None = None
    status: ServiceStatus = ServiceStatus.active
    zoho_source: ZohoOrigin | None = None
    # Zoho's own last-modified time; None when the source did not say.
    zoho_last_modified_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.status is ServiceStatus.active

    def deactivated(self, modified_at: datetime | None = None) -> ServiceState:
        """The same service marked inactive (never deleted: deals and subscriptions point at it)."""
        newest = self.zoho_last_modified_at
        if modified_at is not None and (newest is None or modified_at > newest):
            newest = modified_at
        return replace(self, status=ServiceStatus.inactive, zoho_last_modified_at=newest)


@dataclass(frozen=True)
class StoredService:
    """A `services` record in Attio: its id and what it holds."""

    record_id: str
    state: ServiceState
