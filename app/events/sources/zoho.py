"""Zoho Books / Inventory workflow webhooks, signed with `X-Zoho-Webhook-Signature`."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from urllib.parse import parse_qsl

import anyio.to_thread

from app.clients.attio.values import amount
from app.errors import MalformedPayloadError
from app.events.model import RawRequest, Source, WebhookEvent
from app.events.sources._json import body_digest, decode_json_object
from app.signatures import verify_zoho_signature, zoho_signature_from_headers

FORM = "application/x-www-form-urlencoded"

# The only URL parameter the bridge reads (a deletion webhook's `?action=deleted`) and its
# values. Zoho signs key + value without a separator, so a captured `?action=deleted` keeps
# its signature as `?actiondeleted=` or `?a=ctiondeleted`: every other key, a repeated key or
# another value is refused, so no re-split of signed bytes can change what a delivery means.
ACTION_PARAM = "action"
DELETE_ACTIONS = frozenset({"delete", "deleted"})


def zoho_event_key(
    module: str, record_id: object, modified: object, *, body: bytes, query: str = ""
) -> str:
    """`zoho:<module>:<id>:<time>:<digest>`; the digest tells apart two different deliveries
    for one version (an edit and a deletion, or two bodies Zoho stamped alike)."""
    digest = body_digest(body, query)
    if record_id and modified:
        return f"zoho:{module}:{record_id}:{modified}:{digest}"
    return f"zoho:{module}:sha256-{digest}"


def check_query(raw_query: str) -> None:
    """Refuse (400) URL parameters the bridge does not know; see `ACTION_PARAM`."""
    pairs = parse_qsl(raw_query, keep_blank_values=True)
    keys = [key for key, _ in pairs]
    unknown = sorted(set(keys) - {ACTION_PARAM})
    if unknown:
        raise MalformedPayloadError(
            f"Zoho webhook URL has unknown parameters {unknown}; only `{ACTION_PARAM}` is allowed"
        )
    if len(keys) > 1:
        raise MalformedPayloadError(f"Zoho webhook URL repeats `{ACTION_PARAM}`")
    if pairs and pairs[0][1].strip().lower() not in DELETE_ACTIONS:
        raise MalformedPayloadError(
            f"Zoho webhook `{ACTION_PARAM}` must be one of {sorted(DELETE_ACTIONS)}"
        )


def parse_zoho_time(value: object) -> datetime | None:
    """Zoho writes `2016-06-11T17:38:06-0700` (offset without a colon)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


# Books' newer webhook format carries these instead of the module-wrapped record.
NEW_FORMAT_KEYS = ("is_new_response_format", "events")


def reject_new_format(data: dict) -> None:
    """Refuse Books' newer webhook format unless it still carries the `item` record.

    Zoho documents no schema for it, so guessing where the record sits could write the wrong
    thing; a clear 400 shows in Zoho's webhook log instead of a silently ignored event.
    """
    if isinstance(data.get("item"), dict):
        return
    if data.get("is_new_response_format") not in (None, False, "false") or isinstance(
        data.get("events"), list
    ):
        raise MalformedPayloadError(
            "Zoho webhook body is in Books' newer webhook format (is_new_response_format / "
            "events), which the bridge does not read: set the webhook's body to Default "
            'Payload, which sends {"item": {...}}'
        )


class ZohoSource:
    source = Source.zoho

    def __init__(self, secret: str) -> None:
        self._secret = secret

    async def events_from(self, raw: RawRequest) -> list[WebhookEvent]:
        body = raw.body_bytes
        verify = partial(
            verify_zoho_signature,
            body=body,
            raw_query=raw.query,
            content_type=raw.content_type,
            signature=zoho_signature_from_headers(raw.headers),
            secret=self._secret,
        )
        if raw.content_type.split(";")[0].strip().lower() == FORM:
            # A form is decoded and sorted before its signature can be checked: CPU, kept off
            # the event loop (a JSON body is only hashed).
            await anyio.to_thread.run_sync(verify)
        else:
            verify()
        check_query(raw.query)
        data = self._decode(body, raw.content_type)
        reject_new_format(data)
        # The Default Payload wraps the record in its module name: {"item": {...}}.
        module, record = next(
            ((k, v) for k, v in data.items() if isinstance(v, dict)), (None, None)
        )
        if module is None or record is None:
            raise MalformedPayloadError('Zoho webhook body holds no record (e.g. {"item": {}})')
        try:
            amount(record.get("rate"))  # the one number the bridge writes: refuse it here, once
        except ValueError as exc:
            raise MalformedPayloadError(f"Zoho webhook `rate` is unusable: {exc}") from None
        record_id = record.get(f"{module}_id") or record.get("id")
        modified = record.get("last_modified_time") or record.get("updated_time")
        return [
            WebhookEvent(
                source=self.source,
                event_type=module,
                event_key=zoho_event_key(module, record_id, modified, body=body, query=raw.query),
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
