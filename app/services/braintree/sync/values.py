"""Whether the values a run would write differ from a record's. Pure, so table-testable.

The transforms write Attio's input shapes (an amount as a decimal string, a reference as a
list of target dicts, `[]` to clear); a record read back holds Attio's output shapes. These
helpers compare the two the way Attio stores them, so an unchanged record costs no write.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from app.clients.attio.values import Record, Values, current_values, parse_timestamp

# Stamps follow the change they accompany: they never make a write on their own.
STAMPS = frozenset(
    {"last_event_kind", "last_event_at", "last_payment_event_at", "dispute_event_at"}
)


def _instant(value: str) -> datetime | None:
    if "T" not in value:
        return None
    try:
        return parse_timestamp(value)
    except ValueError:
        return None


def _scalar_equal(wanted: Any, stored: Any) -> bool:
    if isinstance(stored, Decimal) or isinstance(wanted, Decimal):
        try:
            return Decimal(str(wanted)) == Decimal(str(stored))
        except InvalidOperation:
            return False
    if isinstance(stored, bool) or isinstance(wanted, bool):
        return wanted is stored
    if isinstance(stored, int | float) and isinstance(wanted, int | float):
        return float(wanted) == float(stored)
    if isinstance(wanted, str) and isinstance(stored, str):
        if wanted == stored:
            return True
        left, right = _instant(wanted), _instant(stored)
        return left is not None and right is not None and left == right
    return str(wanted) == str(stored)


def same_value(wanted: Any, record: Record | None, slug: str) -> bool:
    """Whether `record` already holds `wanted` (an input-shaped value) for `slug`."""
    stored = current_values(record, slug) if record is not None else []
    if wanted is None or wanted == []:
        return not stored
    if isinstance(wanted, list):
        if wanted and isinstance(wanted[0], dict):
            if "target_record_id" in wanted[0]:
                return stored == [item.get("target_record_id") for item in wanted]
            if "full_name" in wanted[0]:
                return stored[:1] == [wanted[0].get("full_name")]
        # A multi-valued attribute matched by value (email addresses): each one present.
        held = {str(value).lower() for value in stored}
        return all(str(item).lower() in held for item in wanted)
    return bool(stored) and _scalar_equal(wanted, stored[0])


def changed_slugs(
    values: Values, record: Record | None, ignore: Collection[str] = STAMPS
) -> tuple[str, ...]:
    """The attributes of `values` whose value differs from `record`'s (stamps aside)."""
    return tuple(
        slug
        for slug, wanted in values.items()
        if slug not in ignore and not same_value(wanted, record, slug)
    )
