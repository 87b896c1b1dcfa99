"""The Attio schema the bridge owns: declarations and the idempotent bootstrap."""

from app.schema.bootstrap import SchemaBootstrap, SchemaReport
from app.schema.definitions import (
    BRIDGE_EVENTS,
    COMPANIES,
    COMPANY_KEY,
    EVENT_KEY,
    PAYMENT_KEY,
    PAYMENTS,
    PEOPLE,
    PERSON_KEY,
    SCHEMA,
    SERVICE_KEY,
    SERVICES,
    SUBSCRIPTION_KEY,
    SUBSCRIPTIONS,
    AttributeSpec,
    ObjectSpec,
    billing_objects,
    schema_for,
)

__all__ = [
    "BRIDGE_EVENTS",
    "COMPANIES",
    "COMPANY_KEY",
    "EVENT_KEY",
    "PAYMENTS",
    "PAYMENT_KEY",
    "PEOPLE",
    "PERSON_KEY",
    "SCHEMA",
    "SERVICES",
    "SERVICE_KEY",
    "SUBSCRIPTIONS",
    "SUBSCRIPTION_KEY",
    "AttributeSpec",
    "ObjectSpec",
    "SchemaBootstrap",
    "SchemaReport",
    "billing_objects",
    "schema_for",
]
