"""A record the Braintree sync failed to write, as a ledger record, and the source replaying it.

The stored body names the Braintree object only (kind and id); a replay fetches the object from
Braintree again with the bridge's own credentials, so editing the ledger record in Attio cannot
inject data.
"""

from __future__ import annotations

import json
from typing import Any

from app.errors import MalformedPayloadError
from app.events.model import RawRequest, Source, WebhookEvent
from app.events.sources._json import decode_json_object

BRAINTREE_SYNC_EVENT_TYPE = "sync.record"
BRAINTREE_SYNC_KEY_PREFIX = "braintree:sync:"
BRAINTREE_SYNC_PATH = "sync/braintree"
BRAINTREE_SYNC_KINDS = ("subscription", "transaction", "dispute")


def braintree_sync_key(kind: str, object_id: str) -> str:
    """One record per Braintree object: a later failing run updates the same record."""
    return f"{BRAINTREE_SYNC_KEY_PREFIX}{kind}:{object_id}"


def braintree_sync_failure_event(*, kind: str, object_id: str) -> WebhookEvent:
    body = json.dumps({"kind": kind, "id": object_id}, sort_keys=True)
    return _event(RawRequest(body=body, path=BRAINTREE_SYNC_PATH), json.loads(body))


def _event(raw: RawRequest, data: dict[str, Any]) -> WebhookEvent:
    kind, object_id = data.get("kind"), data.get("id")
    if kind not in BRAINTREE_SYNC_KINDS or not isinstance(object_id, str) or not object_id:
        raise MalformedPayloadError("Braintree sync ledger record lacks a valid `kind` or `id`")
    return WebhookEvent(
        source=Source.braintree,
        event_type=BRAINTREE_SYNC_EVENT_TYPE,
        event_key=braintree_sync_key(kind, object_id),
        payload={"kind": kind, "id": object_id},
        raw=raw,
    )


class BraintreeSyncFailureSource:
    """Rebuilds a sync failure's event from its ledger record (for replays and retry-due)."""

    source = Source.braintree

    async def events_from(self, raw: RawRequest) -> list[WebhookEvent]:
        return [_event(raw, decode_json_object(raw.body_bytes, "Braintree sync ledger record"))]


def braintree_sync_entry_event(raw: RawRequest) -> WebhookEvent:
    """The event a sync failure record was written for (to mark it replayed)."""
    return _event(raw, decode_json_object(raw.body_bytes, "Braintree sync ledger record"))
