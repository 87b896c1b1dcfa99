"""Pure transforms between Zoho's records, the comparable `ServiceState` and Attio's values.

No I/O here: the webhook handlers and the sync both call these, and they are table-tested.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from app.clients.attio.values import (
    AMOUNT_PLACES,
    Record,
    amount,
    first_value,
    iso_timestamp,
    record_id,
    text_or_none,
    timestamp_value,
)
from app.errors import MalformedPayloadError
from app.schema import SERVICE_KEY
from app.services.zoho.model import (
    PRODUCT_TYPES,
    SERVICE_ATTRIBUTES,
    ServiceState,
    ServiceStatus,
    StoredService,
    ZohoOrigin,
)

# Attio keeps four decimal places of a currency value; comparing at that precision means a
# rate Attio rounded is not seen as changed on every sync.
_RATE_PLACES = AMOUNT_PLACES


# -- parsing Zoho's fields -------------------------------------------------------------------


def parse_zoho_timestamp(value: object) -> datetime | None:
    """Zoho's `2016-06-11T17:38:06-0700` or `...+00:00` as an aware UTC datetime."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # Zoho always sends an offset; assume UTC if not
    return moment.astimezone(UTC)


def _text(value: object) -> str | None:
    return text_or_none(value, strip=False)  # Zoho's own text, whitespace and all


def parse_rate(value: object) -> Decimal | None:
    """A price as a Decimal at Attio's precision; blank is None, anything else a 400."""
    try:
        return amount(value)
    except ValueError as exc:
        raise MalformedPayloadError(f"Zoho rate is unusable: {exc}") from None


def _product_type(value: object) -> str | None:
    # Only the options the schema declares: Attio rejects a write naming any other.
    text = _text(value)
    return text.lower() if text and text.lower() in PRODUCT_TYPES else None


def _required_id(record: Mapping[str, Any], *keys: str) -> str:
    for key in keys:
        value = record.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()
    raise MalformedPayloadError(f"Zoho record has no {' / '.join(keys)}")


# -- Zoho → ServiceState ---------------------------------------------------------------------


def service_from_item(item: Mapping[str, Any], origin: ZohoOrigin) -> ServiceState:
    """A Books or Inventory item (as listed, fetched, or sent by a webhook)."""
    status = _text(item.get("status"))
    return ServiceState(
        zoho_item_id=_required_id(item, "item_id"),
        name=_text(item.get("name")),
        sku=_text(item.get("sku")),
        description=_text(item.get("description")),
        rate=parse_rate(item.get("rate")),
        unit=_text(item.get("unit")),
        product_type=_product_type(item.get("product_type")),
        status=(
            ServiceStatus.inactive
            if status and status.lower() == "inactive"
            else ServiceStatus.active
        ),
        zoho_source=origin,
        zoho_last_modified_at=parse_zoho_timestamp(
            item.get("last_modified_time") or item.get("updated_time")
        ),
    )


def service_from_crm_product(product: Mapping[str, Any]) -> ServiceState:
    """A Zoho CRM `Products` record (standard field API names)."""
    active = product.get("Product_Active")
    return ServiceState(
        zoho_item_id=_required_id(product, "id"),
        name=_text(product.get("Product_Name")),
        sku=_text(product.get("Product_Code")),
        description=_text(product.get("Description")),
        rate=parse_rate(product.get("Unit_Price")),
        unit=_text(product.get("Usage_Unit")),
        status=ServiceStatus.inactive if active is False else ServiceStatus.active,
        zoho_source=ZohoOrigin.crm,
        zoho_last_modified_at=parse_zoho_timestamp(product.get("Modified_Time")),
    )


# -- Attio record → ServiceState -------------------------------------------------------------


def _enum_or_none(enum: type, value: object) -> Any:
    try:
        return enum(value)
    except ValueError:
        return None


def _as_utc(moment: datetime | None) -> datetime | None:
    # Attio's times are UTC; normalising makes them comparable with Zoho's whatever the form.
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _stored_rate(value: object) -> Decimal | None:
    # A rate typed into Attio beyond what Zoho could send counts as different, not as a crash.
    try:
        return amount(value)
    except ValueError:
        return None


def stored_service(record: Record) -> StoredService | None:
    """The comparable form of a `services` record; None when it has no `zoho_item_id`."""
    item_id = first_value(record, "zoho_item_id")
    if not item_id:
        return None
    rate = first_value(record, "rate")
    state = ServiceState(
        zoho_item_id=str(item_id),
        name=first_value(record, "name"),
        sku=first_value(record, "sku"),
        description=first_value(record, "description"),
        rate=_stored_rate(rate),
        unit=first_value(record, "unit"),
        product_type=first_value(record, "product_type"),
        # A record without a status counts as active, so the sync gives it one.
        status=_enum_or_none(ServiceStatus, first_value(record, "status")) or ServiceStatus.active,
        zoho_source=_enum_or_none(ZohoOrigin, first_value(record, "zoho_source")),
        zoho_last_modified_at=_as_utc(timestamp_value(record, "zoho_last_modified_at")),
    )
    return StoredService(record_id=record_id(record), state=state)


# -- comparing and writing -------------------------------------------------------------------


def is_stale(
    incoming: ServiceState, current: ServiceState | None, *, deactivation_wins_ties: bool = False
) -> bool:
    """Whether Attio already holds a newer version than `incoming` (by Zoho's own clock).

    Equal times are not stale: a redelivery of the same version is harmless (nothing differs),
    and a record someone edited in Attio gets Zoho's values back. With
    `deactivation_wins_ties` (webhooks), an active `incoming` at the same time as an inactive
    record is stale: a deletion and an edit stamped alike arrive in any order, and the
    deletion must not be undone by the edit.
    """
    if current is None or incoming.zoho_last_modified_at is None:
        return False
    stored = current.zoho_last_modified_at
    if stored is None:
        return False
    if incoming.zoho_last_modified_at == stored:
        return deactivation_wins_ties and incoming.active and not current.active
    return incoming.zoho_last_modified_at < stored


def _same(attribute: str, desired: Any, current: Any) -> bool:
    if attribute == "rate" and desired is not None and current is not None:
        return abs(desired - current) < _RATE_PLACES
    return desired == current


def changed_attributes(desired: ServiceState, current: ServiceState | None) -> tuple[str, ...]:
    """Attributes whose value in Attio differs from `desired` (all of them when no record)."""
    if current is None:
        return SERVICE_ATTRIBUTES
    changed = []
    for attribute in SERVICE_ATTRIBUTES:
        wanted = getattr(desired, attribute)
        if attribute == "zoho_last_modified_at" and wanted is None:
            continue  # the source did not say: keep what Attio has
        if not _same(attribute, wanted, getattr(current, attribute)):
            changed.append(attribute)
    return tuple(changed)


def _attio_value(attribute: str, value: Any) -> Any:
    if value is None:
        return []  # clears the attribute
    if attribute == "rate":
        return float(value)
    if attribute == "zoho_last_modified_at":
        return iso_timestamp(value)
    return str(value)


def attio_values(
    state: ServiceState, attributes: Iterable[str] = SERVICE_ATTRIBUTES
) -> dict[str, Any]:
    """The values of an assert by `zoho_item_id`, limited to `attributes`."""
    values: dict[str, Any] = {SERVICE_KEY: state.zoho_item_id}
    for attribute in attributes:
        value = getattr(state, attribute)
        if attribute == "zoho_last_modified_at" and value is None:
            continue
        values[attribute] = _attio_value(attribute, value)
    return values
