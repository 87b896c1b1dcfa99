"""Pure comparison for the Attio → Braintree catch-up: which contact fields Attio holds newer.

The fields and their normalisation are the webhook path's (`transforms.customer_fields` and
`customer_changes`): a field Attio lacks is never blanked in Braintree. A field that differs
is sent only when Attio's value became current (its `active_from`) after the customer's
`updated_at`: an edit made in Braintree since is never overwritten by an older one in Attio.

Braintree stamps `updated_at` in whole seconds, so Attio's time is compared at whole seconds
too, and must be strictly later: an Attio edit in the same second as Braintree's last change
cannot be shown to be newer, and Braintree's value is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.clients.attio.values import Record, parse_timestamp
from app.services.attio.transforms import CUSTOMER_FIELDS, customer_changes, customer_fields

# The Attio attribute each customer field comes from (`company` also reads the company's name).
FIELD_ATTRIBUTES = {
    "first_name": "name",
    "last_name": "name",
    "email": "email_addresses",
    "phone": "phone_numbers",
    "company": "company",
}


@dataclass(frozen=True)
class CompanyName:
    """A company's current name and when it became current."""

    name: str | None
    since: datetime | None


@dataclass(frozen=True)
class CustomerDiff:
    """What the catch-up sends for one person (`send`), and the differing fields it leaves
    alone because Braintree's customer changed as late or later (`kept`)."""

    send: dict[str, str]
    kept: tuple[str, ...] = ()

    @property
    def in_step(self) -> bool:
        return not self.send and not self.kept


def _current(person: Record, slug: str) -> dict[str, Any] | None:
    values = (person.get("values") or {}).get(slug) or []
    return next((v for v in values if v.get("active_until") is None), None)


def value_since(value: Mapping[str, Any] | None) -> datetime | None:
    raw = value.get("active_from") if value else None
    return parse_timestamp(raw) if isinstance(raw, str) and raw else None


def value_times(person: Record, company: CompanyName | None) -> dict[str, datetime | None]:
    """When each customer field's value became current in Attio (None: unknown).

    The company field changes when the person moves to another company or when their company
    is renamed: the later of the two."""
    times = {
        field: value_since(_current(person, attribute))
        for field, attribute in FIELD_ATTRIBUTES.items()
        if field != "company"
    }
    moments = [value_since(_current(person, "company")), company.since if company else None]
    known = [moment for moment in moments if moment is not None]
    times["company"] = max(known) if known else None
    return times


def _utc(moment: datetime) -> datetime:
    """Braintree's SDK gives naive UTC datetimes."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def is_newer(attio_since: datetime | None, customer_updated: datetime | None) -> bool:
    """Whether Attio's value is newer than the customer's last change, at whole seconds.

    Unknown in Attio: not newer. A customer without `updated_at` (Braintree always sends
    one): Attio's value wins, as on the webhook path."""
    if attio_since is None:
        return False
    if customer_updated is None:
        return True
    return _utc(attio_since).replace(microsecond=0) > _utc(customer_updated)


def compare(person: Record, company: CompanyName | None, customer: Any) -> CustomerDiff:
    """The fields to send to `customer` (an SDK `Customer`), and those left alone."""
    wanted = customer_fields(person, company.name if company else None)
    differing = customer_changes(wanted, customer)
    if not differing:
        return CustomerDiff({})
    times = value_times(person, company)
    updated = getattr(customer, "updated_at", None)
    send = {f: v for f, v in differing.items() if is_newer(times[f], updated)}
    kept = tuple(f for f in CUSTOMER_FIELDS if f in differing and f not in send)
    return CustomerDiff(send, kept)
