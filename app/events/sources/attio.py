"""Attio deliveries: `{"webhook_id", "events": [...]}`, signed with hex HMAC-SHA256 of the body.

Only the body is signed, so the event key comes from the body: `attio:sha256-<digest>:<index>`.
Attio's `Idempotency-Key` header would name redeliveries as well, but anyone replaying a
stored delivery could change it, and each new value would be a new event (and a new ledger
record). Attio redelivers the same bytes, so the digest names a message just as well.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from app.errors import MalformedPayloadError
from app.events.model import RawRequest, Source, WebhookEvent
from app.events.sources._json import body_digest, decode_json_object
from app.signatures import attio_signature_from_headers, verify_attio_signature

KEY_PREFIX = "attio:"
DIGEST_PREFIX = "sha256-"


def attio_event_key(body: bytes, index: int) -> str:
    """The key of the `index`-th event of the delivery whose signed body is `body`."""
    return f"{_delivery_key(body)}:{index}"


def _delivery_key(body: bytes) -> str:
    return f"{KEY_PREFIX}{DIGEST_PREFIX}{body_digest(body)}"


def stored_key_event(events: Sequence[WebhookEvent], event_key: str) -> WebhookEvent | None:
    """The event a ledger record written before keys came from the body names, under its key.

    Those records are keyed `attio:<Idempotency-Key>:<index>`: the verified delivery's event
    at that index is the one, and keeps the record's key so the replay settles that record.
    """
    if not event_key.startswith(KEY_PREFIX) or event_key.startswith(KEY_PREFIX + DIGEST_PREFIX):
        return None
    index = event_key.rpartition(":")[2]
    if not index.isdigit() or int(index) >= len(events):
        return None
    event = events[int(index)]
    if event.source is not Source.attio:
        return None
    return event.model_copy(update={"event_key": event_key})


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
        key = _delivery_key(body)
        return [self._event(raw, delivery, item, key, i) for i, item in enumerate(events)]

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
            event_key=f"{delivery_key}:{index}",
            payload={**item, "webhook_id": delivery.get("webhook_id")},
            raw=raw,
            ignore_reason="caused by the bridge's own API token" if is_own_write else None,
        )
