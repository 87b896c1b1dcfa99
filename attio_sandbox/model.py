"""The emulated workspace's data: objects, their attributes and select options, and records.

Plain mutable dataclasses owned by the store; nothing here knows about HTTP or JSON shapes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from attio_sandbox.clock import now_timestamp


@dataclass(slots=True)
class SelectOption:
    id: str
    title: str
    is_archived: bool = False


@dataclass(slots=True, kw_only=True)
class AttributeDef:
    object_id: str
    title: str
    api_slug: str
    type: str
    description: str | None = None
    is_required: bool = False
    is_unique: bool = False
    is_multiselect: bool = False
    is_system: bool = False
    is_writable: bool = True
    currency_code: str | None = None
    currency_display: str | None = None
    allowed_object_ids: list[str] | None = None
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    created_at: str = field(default_factory=now_timestamp)
    # Keyed by option id, in creation order.
    options: dict[str, SelectOption] = field(default_factory=dict)

    def find_option(self, title_or_id: str) -> SelectOption | None:
        option = self.options.get(title_or_id)
        if option is not None:
            return option
        return next((o for o in self.options.values() if o.title == title_or_id), None)


@dataclass(slots=True)
class StoredValue:
    """One active value: the type's read properties plus when and by whom it was written."""

    fields: dict[str, Any]
    active_from: str
    actor: dict[str, str | None]
    active_until: str | None = None  # set when a newer value replaced it


@dataclass(slots=True)
class Record:
    id: str
    object_id: str
    # Creation order; query results without sorts come back in this order.
    seq: int
    created_at: str
    # Attribute id -> active values. Attributes without values are absent.
    values: dict[str, list[StoredValue]] = field(default_factory=dict)
    # Attribute id -> values no longer active, oldest first (`show_historic`).
    history: dict[str, list[StoredValue]] = field(default_factory=dict)


@dataclass(slots=True)
class ObjectDef:
    id: str
    api_slug: str
    singular_noun: str
    plural_noun: str
    created_at: str
    # Keyed by attribute id, in creation order; `attributes_by_slug` is the same set by slug.
    attributes: dict[str, AttributeDef] = field(default_factory=dict)
    attributes_by_slug: dict[str, AttributeDef] = field(default_factory=dict)
    # Keyed by record id; insertion order is creation order.
    records: dict[str, Record] = field(default_factory=dict)

    def find_attribute(self, slug_or_id: str) -> AttributeDef | None:
        return self.attributes_by_slug.get(slug_or_id) or self.attributes.get(slug_or_id)
