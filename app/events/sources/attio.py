"""Attio deliveries: `{"webhook_id", "events": [...]}`, signed with hex HMAC-SHA256 of the body."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from app.errors import MalformedPayloadError
from app.events.model import RawRequest, Source, WebhookEvent
from app.events.sources._json import body_digest, decode_json_object
from app.signatures import attio_signature_from_headers, verify_attio_signature

IDEMPOTENCY_HEADER = "idempotency-key"


class AttioSource:
    source = Source.attio

    def __init__(self, secret: str, own_actor_ids: Collection[str] = ()) -> None:
        self._secret = secret
        self._own_actor_ids = frozenset(own_actor_ids)

    async def events_from(self, raw: RawRequest) -> list[WebhookEvent]:
        body = raw.body_bytes
        verify_attio_signature(body, attio_signature_from_headers(raw.headers), self._secret)
        delivery = decode_json_object(body, "Attio webhook")
        events = delivery.get("events")
        if not isinstance(events, list):
            raise MalformedPayloadError("Attio webhook body has no `events` array")
        # Attio's Idempotency-Key is the same across redeliveries of one message.
        delivery_key = raw.headers.get(IDEMPOTENCY_HEADER) or f"sha256-{body_digest(body)}"
        return [self._event(raw, delivery, item, delivery_key, i) for i, item in enumerate(events)]

    def _event(
        self, raw: RawRequest, delivery: dict, item: object, delivery_key: str, index: int
    ) -> WebhookEvent:
        if not isinstance(item, dict) or not isinstance(item.get("event_type"), str):
            raise MalformedPayloadError(f"Attio event #{index} has no `event_type`")
        raw_actor = item.get("actor")
        actor: dict[str, Any] = raw_actor if isinstance(raw_actor, dict) else {}
        actor_id = actor.get("id")
        # Only a string can be one of our ids (a list or object here would not even hash).
        is_own_write = (
            actor.get("type") == "api-token"
            and isinstance(actor_id, str)
            and actor_id in self._own_actor_ids
        )
        return WebhookEvent(
            source=self.source,
            event_type=item["event_type"],
            event_key=f"attio:{delivery_key}:{index}",
            payload={**item, "webhook_id": delivery.get("webhook_id")},
            raw=raw,
            ignore_reason="caused by the bridge's own API token" if is_own_write else None,
        )
