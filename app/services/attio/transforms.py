"""Pure transforms for Attio → Braintree: what a person's record says about their customer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.clients.attio.values import Record, current_values, first_value, reference
from app.schema.definitions import PEOPLE

# The Braintree customer fields the bridge keeps in step with the Attio person.
CUSTOMER_FIELDS = ("first_name", "last_name", "email", "phone", "company")
# The Attio attributes they come from: an update to any other attribute needs no Braintree call.
PERSON_SOURCE_ATTRIBUTES = frozenset({"name", "email_addresses", "phone_numbers", "company"})


def _name_parts(person: Record) -> tuple[str | None, str | None]:
    names = (person.get("values") or {}).get("name") or []
    current = next((n for n in names if n.get("active_until") is None), None)
    if current is None:
        return None, None
    return current.get("first_name") or None, current.get("last_name") or None


def customer_fields(person: Record, company_name: str | None) -> dict[str, str | None]:
    """The Braintree customer fields as the Attio person record has them."""
    first_name, last_name = _name_parts(person)
    emails = current_values(person, "email_addresses")
    return {
        "first_name": first_name,
        "last_name": last_name,
        "email": emails[0] if emails else None,
        "phone": first_value(person, "phone_numbers"),
        "company": company_name,
    }


def customer_changes(wanted: Mapping[str, str | None], customer: Any) -> dict[str, str]:
    """Fields to send to Braintree: those Attio has and Braintree holds differently.

    A field Attio lacks is left alone rather than blanked in billing: an empty CRM field is
    more often missing data than a deliberate deletion.
    """
    changes: dict[str, str] = {}
    for field in CUSTOMER_FIELDS:
        value = wanted.get(field)
        if value and value != (getattr(customer, field, None) or None):
            changes[field] = value
    return changes


def person_reference(record_id: str) -> list[dict[str, str]]:
    return reference(PEOPLE, record_id)


def companies_in_history(values: list[Any], *, keep: int = 3) -> list[str]:
    """The companies a person's `company` history names: the current one(s) first, then the
    `keep` they left most recently (a company they left still counts them until recomputed)."""
    current = [v["target_record_id"] for v in values if v.get("active_until") is None]
    replaced = sorted(
        (v for v in values if v.get("active_until") is not None),
        key=lambda v: str(v["active_until"]),
        reverse=True,
    )
    now = [str(c) for c in dict.fromkeys(current) if c]
    left = dict.fromkeys(str(v["target_record_id"]) for v in replaced if v.get("target_record_id"))
    return now + [c for c in left if c not in now][:keep]
