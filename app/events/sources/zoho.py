"""Zoho Books / Inventory workflow webhooks, signed with `X-Zoho-Webhook-Signature`."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import parse_qsl

from app.errors import MalformedPayloadError
from app.events.model import RawRequest, Source, WebhookEvent
from app.events.sources._json import body_digest, decode_json_object
from app.signatures import verify_zoho_signature, zoho_signature_from_headers

FORM = "application/x-www-form-urlencoded"


def parse_zoho_time(value: object) -> datetime | None:
    """Zoho writes `2016-06-11T17:38:06-0700` (offset without a colon)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


class ZohoSource:
    source = Source.zoho

    def __init__(self, secret: str) -> None:
        self._secret = secret

    async def events_from(self, raw: RawRequest) -> list[WebhookEvent]:
        body = raw.body_bytes
        verify_zoho_signature(
            body=body,
            raw_query=raw.query,
            content_type=raw.content_type,
            signature=zoho_signature_from_headers(raw.headers),
            secret=self._secret,
        )
        data = self._decode(body, raw.content_type)
        # The Default Payload wraps the record in its module name: {"item": {...}}.
        module, record = next(
            ((k, v) for k, v in data.items() if isinstance(v, dict)), (None, None)
        )
        if module is None or record is None:
            raise MalformedPayloadError('Zoho webhook body holds no record (e.g. {"item": {}})')
        record_id = record.get(f"{module}_id") or record.get("id")
        modified = record.get("last_modified_time") or record.get("updated_time")
        key_tail = (
            f"{record_id}:{modified}" if record_id and modified else f"sha256-{body_digest(body)}"
        )
        return [
            WebhookEvent(
                source=self.source,
                event_type=module,
                event_key=f"zoho:{module}:{key_tail}",
                occurred_at=parse_zoho_time(modified),
                payload=record,
                raw=raw,
            )
        ]

    @staticmethod
    def _decode(body: bytes, content_type: str) -> dict:
        if content_type.split(";")[0].strip().lower() == FORM:
            # A form body is key/value pairs chosen in Zoho; a field may hold the JSON record.
            fields = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
            for name, value in fields.items():
                if value.startswith("{"):
                    return {name: decode_json_object(value.encode(), "Zoho webhook field")}
            return {"item": fields}
        return decode_json_object(body, "Zoho webhook")
