"""Zoho CRM Notification API callbacks: ids only, authenticated by the channel's `token`.

The token travels inside the JSON body, so this is the one source that must parse before it
can verify; the body is small (size-limited by the route) and nothing is used before the
constant-time check passes. One event per record id, so each re-fetch succeeds or fails alone.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

from app.errors import MalformedPayloadError
from app.events.model import RawRequest, Source, WebhookEvent
from app.events.sources._json import body_digest, decode_json_object
from app.signatures import verify_zoho_crm_token

ZOHO_CRM_KEY_PREFIX = "zoho:crm:"


def _from_epoch_ms(value: object) -> datetime | None:
    """`server_time` as a datetime; None when absent or not a representable instant."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        return datetime.fromtimestamp(value / 1000, UTC)
    except (OverflowError, OSError, ValueError):  # e.g. 1e300, Infinity, NaN in the JSON
        return None


class ZohoCrmSource:
    source = Source.zoho

    def __init__(self, token: str, channel_ids: Collection[str]) -> None:
        self._token = token
        self._channel_ids = frozenset(channel_ids)

    async def events_from(self, raw: RawRequest) -> list[WebhookEvent]:
        body = raw.body_bytes
        data = decode_json_object(body, "Zoho CRM notification")
        verify_zoho_crm_token(
            data.get("token"), self._token, data.get("channel_id"), self._channel_ids
        )
        module, operation, ids = data.get("module"), data.get("operation"), data.get("ids")
        if not isinstance(module, str) or not isinstance(operation, str):
            raise MalformedPayloadError("Zoho CRM notification lacks `module` or `operation`")
        if not isinstance(ids, list) or not all(isinstance(i, str | int) for i in ids):
            raise MalformedPayloadError("Zoho CRM notification `ids` must be a list of ids")
        server_time = data.get("server_time")
        occurred_at = _from_epoch_ms(server_time)
        when = str(server_time) if occurred_at else f"sha256-{body_digest(body)}"
        return [
            WebhookEvent(
                source=self.source,
                event_type=f"crm.{module}.{operation}",
                event_key=f"{ZOHO_CRM_KEY_PREFIX}{module}:{record_id}:{when}",
                occurred_at=occurred_at,
                payload={"module": module, "operation": operation, "id": str(record_id)},
                raw=raw,
            )
            for record_id in ids
        ]
