"""A failed sync item as a ledger record in `bridge_events`, and the source that replays it.

The stored body names the item only; a replay re-fetches the item from Zoho with the bridge's
own credentials, so editing the record in Attio cannot inject data (the same rule as replays of
webhooks, which verify their stored signature again).
"""

from __future__ import annotations

import json
from typing import Any

from app.errors import MalformedPayloadError
from app.events.model import RawRequest, Source, WebhookEvent
from app.events.sources._json import decode_json_object

SYNC_EVENT_TYPE = "sync.item"
SYNC_KEY_PREFIX = "zoho:sync:"
SYNC_PATH = "sync/zoho"


def sync_event_key(zoho_item_id: str, version: str) -> str:
    """Stable per item version: a later run failing on the same version updates one record."""
    return f"{SYNC_KEY_PREFIX}{zoho_item_id}:{version}"


def sync_failure_event(
    *, zoho_item_id: str, source: str, version: str, operation: str | None
) -> WebhookEvent:
    body = json.dumps(
        {
            "zoho_item_id": zoho_item_id,
            "source": source,
            "version": version,
            "operation": operation,
        },
        sort_keys=True,
    )
    return _event(RawRequest(body=body, path=SYNC_PATH), json.loads(body))


def _event(raw: RawRequest, data: dict[str, Any]) -> WebhookEvent:
    item_id, version = data.get("zoho_item_id"), data.get("version")
    if not isinstance(item_id, str) or not item_id or not isinstance(version, str):
        raise MalformedPayloadError("sync ledger record lacks `zoho_item_id` or `version`")
    return WebhookEvent(
        source=Source.zoho,
        event_type=SYNC_EVENT_TYPE,
        event_key=sync_event_key(item_id, version),
        payload={"zoho_item_id": item_id, "source": data.get("source")},
        raw=raw,
    )


class ZohoSyncFailureSource:
    """Rebuilds a sync failure's event from its ledger record (for replays and retry-due)."""

    source = Source.zoho

    async def events_from(self, raw: RawRequest) -> list[WebhookEvent]:
        return [_event(raw, decode_json_object(raw.body_bytes, "sync ledger record"))]


def item_id_from_key(event_key: str) -> str | None:
    """`zoho:sync:<item id>:<version>` → the item id (Zoho ids hold no colon)."""
    if not event_key.startswith(SYNC_KEY_PREFIX):
        return None
    return event_key[len(SYNC_KEY_PREFIX) :].split(":", 1)[0] or None


def event_for_entry(raw: RawRequest) -> WebhookEvent:
    """The event a sync failure record was written for (to mark it replayed)."""
    return _event(raw, decode_json_object(raw.body_bytes, "sync ledger record"))
