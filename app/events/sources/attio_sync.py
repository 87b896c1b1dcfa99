"""A person the Attio → Braintree catch-up failed on, as a ledger record, and its source.

The stored body names the Attio person only; a replay reads the person from Attio and the
customer from Braintree again with the bridge's own credentials, so editing the ledger record
in Attio cannot inject data.
"""

from __future__ import annotations

import json
from typing import Any

from app.errors import MalformedPayloadError
from app.events.model import RawRequest, Source, WebhookEvent
from app.events.sources._json import decode_json_object

ATTIO_SYNC_EVENT_TYPE = "sync.customer"
ATTIO_SYNC_KEY_PREFIX = "attio:sync:"
ATTIO_SYNC_PATH = "sync/attio"


def attio_sync_key(person_id: str) -> str:
    """One record per person: a later failing run updates the same record."""
    return f"{ATTIO_SYNC_KEY_PREFIX}person:{person_id}"


def attio_sync_failure_event(*, person_id: str, customer_id: str | None) -> WebhookEvent:
    body = json.dumps({"person": person_id, "customer_id": customer_id}, sort_keys=True)
    return _event(RawRequest(body=body, path=ATTIO_SYNC_PATH), json.loads(body))


def _event(raw: RawRequest, data: dict[str, Any]) -> WebhookEvent:
    person_id = data.get("person")
    if not isinstance(person_id, str) or not person_id:
        raise MalformedPayloadError("Attio sync ledger record lacks a valid `person`")
    return WebhookEvent(
        source=Source.attio,
        event_type=ATTIO_SYNC_EVENT_TYPE,
        event_key=attio_sync_key(person_id),
        payload={"person": person_id, "customer_id": data.get("customer_id")},
        raw=raw,
    )


class AttioSyncFailureSource:
    """Rebuilds a catch-up failure's event from its ledger record (replays and retry-due)."""

    source = Source.attio

    async def events_from(self, raw: RawRequest) -> list[WebhookEvent]:
        return [_event(raw, decode_json_object(raw.body_bytes, "Attio sync ledger record"))]


def attio_sync_entry_event(raw: RawRequest) -> WebhookEvent:
    """The event a catch-up failure record was written for (to mark it replayed)."""
    return _event(raw, decode_json_object(raw.body_bytes, "Attio sync ledger record"))
