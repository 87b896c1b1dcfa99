"""The JSON Attio returns for objects, attributes, options and records.

Shapes follow the `object`, `attribute` and `select-option` schemas and the record response of
Attio's OpenAPI document; the contract tests check them against it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from attio_sandbox.model import AttributeDef, ObjectDef, Record, SelectOption, StoredValue
from attio_sandbox.values import DEFAULT_PROPERTY

if TYPE_CHECKING:
    from attio_sandbox.store import Workspace

# Maintained by the workspace; the flattened view shows them as top-level fields instead.
_COMPUTED_SLUGS = frozenset({"record_id", "created_at", "created_by"})


def render_object(store: Workspace, obj: ObjectDef) -> dict[str, Any]:
    return {
        "id": {"workspace_id": store.workspace_id, "object_id": obj.id},
        "api_slug": obj.api_slug,
        "singular_noun": obj.singular_noun,
        "plural_noun": obj.plural_noun,
        "created_at": obj.created_at,
    }


def render_attribute(store: Workspace, attribute: AttributeDef) -> dict[str, Any]:
    return {
        "id": {
            "workspace_id": store.workspace_id,
            "object_id": attribute.object_id,
            "attribute_id": attribute.id,
        },
        "title": attribute.title,
        "description": attribute.description,
        "api_slug": attribute.api_slug,
        "type": attribute.type,
        "is_system_attribute": attribute.is_system,
        "is_writable": attribute.is_writable,
        "is_required": attribute.is_required,
        "is_unique": attribute.is_unique,
        "is_multiselect": attribute.is_multiselect,
        "is_default_value_enabled": False,
        "is_archived": False,
        "default_value": None,
        "relationship": None,
        "created_at": attribute.created_at,
        "config": {
            "currency": {
                "default_currency_code": attribute.currency_code,
                "display_type": attribute.currency_display,
            },
            "record_reference": {"allowed_object_ids": attribute.allowed_object_ids},
        },
    }


def render_option(
    store: Workspace, attribute: AttributeDef, option: SelectOption
) -> dict[str, Any]:
    return {
        "id": {
            "workspace_id": store.workspace_id,
            "object_id": attribute.object_id,
            "attribute_id": attribute.id,
            "option_id": option.id,
        },
        "title": option.title,
        "is_archived": option.is_archived,
    }


def _render_value(store: Workspace, attribute: AttributeDef, value: StoredValue) -> dict[str, Any]:
    fields = value.fields
    if attribute.type == "select":
        fields = {"option": render_option(store, attribute, attribute.options[fields["option"]])}
    return {
        "active_from": value.active_from,
        "active_until": value.active_until,
        "created_by_actor": dict(value.actor),
        **fields,
        "attribute_type": attribute.type,
    }


def render_values(
    store: Workspace, record: Record, attribute: AttributeDef, *, historic: bool
) -> list[dict[str, Any]]:
    """One attribute's values; `historic` adds the replaced ones, oldest first by active_from."""
    values = list(record.values.get(attribute.id, ()))
    if historic:
        values = sorted(
            [*record.history.get(attribute.id, ()), *values], key=lambda v: v.active_from
        )
    return [_render_value(store, attribute, value) for value in values]


def render_record(store: Workspace, record: Record) -> dict[str, Any]:
    obj = store.objects[record.object_id]
    noun = obj.singular_noun.lower().replace(" ", "-")
    return {
        "id": {
            "workspace_id": store.workspace_id,
            "object_id": obj.id,
            "record_id": record.id,
        },
        "created_at": record.created_at,
        "web_url": f"https://app.attio.com/{store.workspace_slug}/{noun}/{record.id}",
        # Every attribute appears, with an empty array when it has no value.
        "values": {
            attribute.api_slug: [
                _render_value(store, attribute, value)
                for value in record.values.get(attribute.id, ())
            ]
            for attribute in obj.attributes.values()
        },
    }


def _plain_value(attribute: AttributeDef, value: StoredValue) -> Any:
    if attribute.type == "select":
        return attribute.options[value.fields["option"]].title
    return value.fields[DEFAULT_PROPERTY[attribute.type]]


def plain_record(store: Workspace, record: Record) -> dict[str, Any]:
    """A record for people to read: each attribute's main property, lists only if multiselect."""
    obj = store.objects[record.object_id]
    values: dict[str, Any] = {}
    for attribute in obj.attributes.values():
        if attribute.api_slug in _COMPUTED_SLUGS:
            continue
        items = [_plain_value(attribute, v) for v in record.values.get(attribute.id, ())]
        values[attribute.api_slug] = items if attribute.is_multiselect else next(iter(items), None)
    return {"record_id": record.id, "created_at": record.created_at, "values": values}
