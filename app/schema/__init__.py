"""The Attio schema the bridge owns: declarations and the idempotent bootstrap."""

from app.schema.bootstrap import SchemaBootstrap, SchemaReport
from app.schema.definitions import (
    BRIDGE_EVENTS,
    PAYMENTS,
    PEOPLE,
    SCHEMA,
    SERVICES,
    SUBSCRIPTIONS,
    AttributeSpec,
    ObjectSpec,
)

__all__ = [
    "BRIDGE_EVENTS",
    "PAYMENTS",
    "PEOPLE",
    "SCHEMA",
    "SERVICES",
    "SUBSCRIPTIONS",
    "AttributeSpec",
    "ObjectSpec",
    "SchemaBootstrap",
    "SchemaReport",
]
