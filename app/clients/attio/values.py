"""Reading Attio's value shapes back into plain Python, and comparing them with a write's.

Attio returns every attribute as an array of value objects (`active_from`, `attribute_type`, and
the type's own fields). These helpers pick the current value out of that shape. A write holds
Attio's input shapes (an amount as a decimal string, a reference as a list of target dicts,
`[]` to clear); `same_value` and `changed_slugs` compare the two the way Attio stores them, so
a record that already holds a write's values costs no write.
"""

from __future__ import annotations

import itertools
import math
import sys
from collections.abc import Collection
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

Record = dict[str, Any]
Values = dict[str, Any]  # the `values` of a record write, by attribute slug

# Attio keeps four decimal places of a number or currency value, and values travel as JSON,
# whose readers (Attio's web app among them) hold numbers as doubles: 15 significant digits
# survive that exactly, so with four places an amount must stay below 10^11.
AMOUNT_PLACES = Decimal("0.0001")
MAX_AMOUNT = Decimal(10) ** 11


def amount(value: object) -> Decimal | None:
    """A number or currency amount as Attio can store it exactly; None when blank.

    Raises `ValueError` for anything else: not a number, NaN, Infinity, or not below
    `MAX_AMOUNT` in magnitude (`1e29`, a 4,300-digit integer).
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValueError(f"not a number: {value!r:.40}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"not a finite number: {value!r}")
    try:
        parsed = Decimal(value.strip() if isinstance(value, str) else value)
    except (InvalidOperation, ValueError):
        raise ValueError(f"not a number: {value!r:.40}") from None
    if not parsed.is_finite():
        raise ValueError(f"not a finite number: {value!r:.40}")
    # Compared before rounding: quantizing a huge value is what raised InvalidOperation.
    if abs(parsed) >= MAX_AMOUNT:
        raise ValueError(f"out of range (|amount| must be below 10^11): {value!r:.40}")
    return parsed.quantize(AMOUNT_PLACES)


def plain(value: dict[str, Any]) -> Any:
    """One Attio value object as a plain Python value."""
    kind = value.get("attribute_type")
    if kind == "select":
        return (value.get("option") or {}).get("title")
    if kind == "status":
        return (value.get("status") or {}).get("title")
    if kind == "currency":
        amount = value.get("currency_value")
        return None if amount is None else Decimal(str(amount))
    if kind == "record-reference":
        return value.get("target_record_id")
    if kind == "email-address":
        return value.get("email_address")
    if kind == "domain":
        return value.get("domain")
    if kind == "phone-number":
        return value.get("original_phone_number") or value.get("phone_number")
    if kind == "personal-name":
        return value.get("full_name")
    return value.get("value")


def current_values(record: Record, attribute: str) -> list[Any]:
    """Every active value of an attribute (multiselect attributes hold several)."""
    values = (record.get("values") or {}).get(attribute) or []
    if isinstance(values, tuple):  # a `compact` record: its plain current values
        return list(values)
    return [plain(v) for v in values if v.get("active_until") is None]


def compact(record: Record, attributes: Collection[str] | None = None) -> Record:
    """The record's id and the plain current values of `attributes` (None: all of them).

    For holding many records at once: Attio's value objects (type, actor, validity, option ids)
    are most of a record's memory and no comparison reads them. `current_values` and every
    reader built on it answer the same for the compact record as for the full one.
    """
    values: dict[str, tuple[Any, ...]] = {}
    for slug, items in (record.get("values") or {}).items():
        if attributes is not None and slug not in attributes:
            continue
        if isinstance(items, tuple):
            held = items
        else:
            held = tuple(_shared(plain(v)) for v in items if v.get("active_until") is None)
        if held:
            values[sys.intern(slug)] = held
    return {"id": {"record_id": _shared(record_id(record))}, "values": values}


def _shared(value: Any) -> Any:
    # Record ids, customer ids, codes and titles recur across thousands of held records.
    return sys.intern(value) if isinstance(value, str) else value


def first_value(record: Record, attribute: str) -> Any:
    values = current_values(record, attribute)
    return values[0] if values else None


def timestamp_value(record: Record, attribute: str) -> datetime | None:
    """A timestamp attribute as an aware datetime (Attio sends nanoseconds; Python keeps micro)."""
    raw = first_value(record, attribute)
    return parse_timestamp(raw) if raw else None


def parse_timestamp(raw: str) -> datetime:
    text = raw.replace("Z", "+00:00")
    # Trim fractional seconds beyond microseconds: 2023-01-01T15:00:00.000000000+00:00
    if "." in text:
        head, _, rest = text.partition(".")
        digits = "".join(itertools.takewhile(str.isdigit, rest))
        zone = rest[len(digits) :]
        text = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    return datetime.fromisoformat(text)


def read_timestamp(raw: object) -> datetime | None:
    """A timestamp the bridge wrote itself (ISO 8601, UTC unless it says otherwise), or None for
    anything else: bookkeeping records may be edited by hand in Attio."""
    if not isinstance(raw, str) or not raw:
        return None
    try:
        moment = parse_timestamp(raw)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def record_id(record: Record) -> str:
    return record["id"]["record_id"]


# -- writing -------------------------------------------------------------------------------


def reference(target_object: str, target_record_id: str) -> list[dict[str, str]]:
    """A record-reference value."""
    return [{"target_object": target_object, "target_record_id": target_record_id}]


def iso_timestamp(moment: datetime | None) -> str | None:
    """An aware datetime as ISO 8601 in UTC with a `Z`, as Attio (and the admin API) show it."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def text_or_none(value: object, *, strip: bool = True) -> str | None:
    """A text value, or None when there is none (None or blank); `strip=False` keeps the
    value's own whitespace (free text such as a description)."""
    if value is None:
        return None
    result = value if isinstance(value, str) else str(value)
    if not result.strip():
        return None
    return result.strip() if strip else result


# -- comparing a write with a record -------------------------------------------------------


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
    values: Values, record: Record | None, ignore: Collection[str] = ()
) -> tuple[str, ...]:
    """The attributes of `values` whose value differs from `record`'s (`ignore`d ones aside)."""
    return tuple(
        slug
        for slug, wanted in values.items()
        if slug not in ignore and not same_value(wanted, record, slug)
    )
