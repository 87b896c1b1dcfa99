"""Attribute values by type: accepted write forms, stored properties and comparison keys.

A write item is turned into the type's read properties (what Attio returns besides
`active_from`, `active_until`, `created_by_actor` and `attribute_type`), with every normalisation
Attio applies done once at write time. Filters, sorts and the uniqueness index then compare
stored properties directly.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
from typing import Any, Literal, Protocol

from attio_sandbox.clock import parse_date, parse_timestamp
from attio_sandbox.domains import email_properties, normalize_domain, root_domain
from attio_sandbox.errors import AttioError, validation_error, value_not_found
from attio_sandbox.model import AttributeDef
from attio_sandbox.phone import normalize_phone

# How a property compares in filters: `folded` properties are stored lower-cased, so operands
# are lower-cased too; `option` and `object` operands are titles/slugs or ids, resolved to ids.
Kind = Literal[
    "text", "folded", "number", "boolean", "date", "timestamp", "option", "object", "phone",
    "country",
]  # fmt: skip

PROPERTY_KINDS: dict[str, dict[str, Kind]] = {
    "text": {"value": "text"},
    "number": {"value": "number"},
    "rating": {"value": "number"},
    "checkbox": {"value": "boolean"},
    "currency": {"currency_value": "number", "currency_code": "text"},
    "date": {"value": "date"},
    "timestamp": {"value": "timestamp"},
    "select": {"option": "option"},
    "email-address": {
        "email_address": "folded",
        "original_email_address": "text",
        "email_domain": "folded",
        "email_root_domain": "folded",
        "email_local_specifier": "folded",
    },
    "phone-number": {
        "phone_number": "phone",
        "original_phone_number": "text",
        "country_code": "country",
    },
    "domain": {"domain": "folded", "root_domain": "folded"},
    "personal-name": {"full_name": "text", "first_name": "text", "last_name": "text"},
    "record-reference": {"target_record_id": "text", "target_object": "object"},
    "actor-reference": {"referenced_actor_id": "text", "referenced_actor_type": "text"},
}

# The property a shorthand filter (`{"slug": value}`), a sort without `field`, the equality index
# and the uniqueness check use.
DEFAULT_PROPERTY: dict[str, str] = {
    "text": "value",
    "number": "value",
    "rating": "value",
    "checkbox": "value",
    "currency": "currency_value",
    "date": "value",
    "timestamp": "value",
    "select": "option",
    "email-address": "email_address",
    "phone-number": "phone_number",
    "domain": "domain",
    "personal-name": "full_name",
    "record-reference": "target_record_id",
    "actor-reference": "referenced_actor_id",
}

# Names Attio's guides use for the normalised properties.
PROPERTY_ALIASES = {
    "normalized_email_address": "email_address",
    "normalized_phone_number": "phone_number",
}

# Types a custom attribute may be created with. Status attributes are not supported on objects
# by Attio itself; location and actor-reference are not emulated.
CREATABLE_TYPES = frozenset(
    {
        "text", "number", "checkbox", "currency", "date", "timestamp", "rating", "select",
        "record-reference", "domain", "email-address", "phone-number",
    }
)  # fmt: skip

_NUMERIC_TYPES = frozenset({"number", "rating", "currency"})


class ReferenceResolver(Protocol):
    def resolve_reference(self, attribute: AttributeDef, item: Any) -> tuple[str, str]:
        """(target object slug, target record id) for a record-reference write item."""
        ...


class InvalidValue(Exception):
    """A write item of the wrong shape; reported as Attio's `validation_type` error."""


Parser = Callable[[AttributeDef, Any, ReferenceResolver], dict[str, Any]]


def index_key(attribute: AttributeDef, fields: dict[str, Any]) -> Hashable:
    value = fields[DEFAULT_PROPERTY[attribute.type]]
    return float(value) if attribute.type in _NUMERIC_TYPES else value


def parse_values(
    attribute: AttributeDef, raw: Any, resolver: ReferenceResolver
) -> list[dict[str, Any]]:
    """Stored properties for each item written to `attribute`; `None` or `[]` clears it."""
    if raw is None:
        return []
    if isinstance(raw, list):
        items = raw
    elif attribute.is_multiselect:
        raise validation_error(
            f'Attribute "{attribute.api_slug}" is multiselect, so its values must be an array.'
        )
    else:
        items = [raw]
    if len(items) > 1 and not attribute.is_multiselect:
        raise AttioError(
            400,
            "multiple_values_for_single_value_attribute",
            f'Attribute "{attribute.api_slug}" accepts a single value, got {len(items)}.',
        )
    parser = _PARSERS[attribute.type]
    parsed: list[dict[str, Any]] = []
    seen: set[Hashable] = set()
    for item in items:
        try:
            fields = parser(attribute, item, resolver)
        except (InvalidValue, ValueError) as exc:
            raise validation_error(
                f'Invalid value for attribute "{attribute.api_slug}" '
                f"of type {attribute.type}: {exc}"
            ) from None
        key = index_key(attribute, fields)
        if key not in seen:  # the same value twice in one write is stored once
            seen.add(key)
            parsed.append(fields)
    return parsed


def _unwrap(item: Any, key: str) -> Any:
    """A bare item, or an object whose only key is `key`."""
    if isinstance(item, dict):
        if set(item) != {key}:
            raise InvalidValue(f'expected a value or an object with the single key "{key}"')
        return item[key]
    return item


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidValue(f"expected a string, got {type(value).__name__}")
    return value


def _number(value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidValue(f"expected a number, got {value!r}")
    # Attio keeps up to four decimal places.
    return round(value, 4) if isinstance(value, float) else value


def _text(_attribute: AttributeDef, item: Any, _resolver: ReferenceResolver) -> dict[str, Any]:
    return {"value": _string(_unwrap(item, "value"))}


def _numeric(_attribute: AttributeDef, item: Any, _resolver: ReferenceResolver) -> dict[str, Any]:
    return {"value": _number(_unwrap(item, "value"))}


def _rating(_attribute: AttributeDef, item: Any, _resolver: ReferenceResolver) -> dict[str, Any]:
    value = _unwrap(item, "value")
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 5:
        raise InvalidValue("expected an integer from 0 to 5")
    return {"value": value}


def _checkbox(_attribute: AttributeDef, item: Any, _resolver: ReferenceResolver) -> dict[str, Any]:
    value = _unwrap(item, "value")
    if value in ("true", "false"):
        value = value == "true"
    if not isinstance(value, bool):
        raise InvalidValue("expected true or false")
    return {"value": value}


def _currency(attribute: AttributeDef, item: Any, _resolver: ReferenceResolver) -> dict[str, Any]:
    # The code cannot be written: it always comes from the attribute's configuration.
    value = _unwrap(item, "currency_value")
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise InvalidValue(f"expected a number, got {value!r}") from None
    return {"currency_value": _number(value), "currency_code": attribute.currency_code}


def _date(_attribute: AttributeDef, item: Any, _resolver: ReferenceResolver) -> dict[str, Any]:
    return {"value": parse_date(_string(_unwrap(item, "value")))}


def _timestamp(_attribute: AttributeDef, item: Any, _resolver: ReferenceResolver) -> dict[str, Any]:
    return {"value": parse_timestamp(_string(_unwrap(item, "value")))}


def _select(attribute: AttributeDef, item: Any, _resolver: ReferenceResolver) -> dict[str, Any]:
    wanted = _string(_unwrap(item, "option") if isinstance(item, dict) else item)
    option = attribute.find_option(wanted)
    if option is None:
        # Attio never creates options implicitly.
        raise value_not_found(
            f'Cannot find select option with title or ID "{wanted}" '
            f'for attribute "{attribute.api_slug}".'
        )
    return {"option": option.id}


def _email(_attribute: AttributeDef, item: Any, _resolver: ReferenceResolver) -> dict[str, Any]:
    return email_properties(_string(_unwrap(item, "email_address")))


def _phone(_attribute: AttributeDef, item: Any, _resolver: ReferenceResolver) -> dict[str, Any]:
    if isinstance(item, dict):
        if "original_phone_number" not in item or set(item) - {
            "original_phone_number",
            "country_code",
        }:
            raise InvalidValue('expected "original_phone_number" and optionally "country_code"')
        original = _string(item["original_phone_number"])
        country = item.get("country_code")
        if country is not None:
            country = _string(country)
    else:
        original, country = _string(item), None
    number, country_code = normalize_phone(original, country)
    return {"original_phone_number": original, "country_code": country_code, "phone_number": number}


def _domain(_attribute: AttributeDef, item: Any, _resolver: ReferenceResolver) -> dict[str, Any]:
    domain = normalize_domain(_string(_unwrap(item, "domain")))
    return {"domain": domain, "root_domain": root_domain(domain)}


def _personal_name(
    _attribute: AttributeDef, item: Any, _resolver: ReferenceResolver
) -> dict[str, Any]:
    if isinstance(item, str):
        # "Last, First": text without a comma is only a first name; later commas belong to it.
        last, comma, first = item.partition(",")
        if not comma:
            first, last = item, ""
        first, last = first.strip(), last.strip()
        return {"first_name": first, "last_name": last, "full_name": f"{first} {last}".strip()}
    keys = {"first_name", "last_name", "full_name"}
    if not isinstance(item, dict) or set(item) != keys:
        raise InvalidValue("expected an object with first_name, last_name and full_name")
    return {key: _string(item[key]) for key in ("first_name", "last_name", "full_name")}


def _reference(attribute: AttributeDef, item: Any, resolver: ReferenceResolver) -> dict[str, Any]:
    target_object, target_record_id = resolver.resolve_reference(attribute, item)
    return {"target_object": target_object, "target_record_id": target_record_id}


_PARSERS: dict[str, Parser] = {
    "text": _text,
    "number": _numeric,
    "rating": _rating,
    "checkbox": _checkbox,
    "currency": _currency,
    "date": _date,
    "timestamp": _timestamp,
    "select": _select,
    "email-address": _email,
    "phone-number": _phone,
    "domain": _domain,
    "personal-name": _personal_name,
    "record-reference": _reference,
}
