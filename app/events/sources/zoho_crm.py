"""Zoho CRM Notification API callbacks: ids only, authenticated by the channel's `token`.

The token travels inside the JSON body, so this is the one source that must parse before it
can verify; the body is small (size-limited by the route) and nothing is used before the
constant-time check passes. One event per record id, so each re-fetch succeeds or fails alone.

The token is the route's only credential, so it never reaches Attio: each event carries the
body without it (canonical JSON), which is what the ledger stores. The event key holds a digest
of that body, so a replay (`ZohoCrmLedgerSource`) rebuilds the same key only from an unedited
record; and the handler re-fetches the product from Zoho whatever the body says.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import Any

from app.errors import MalformedPayloadError
from app.events.model import RawRequest, Source, WebhookEvent
from app.events.sources._json import body_digest, decode_json_object
from app.signatures import verify_zoho_crm_token

ZOHO_CRM_KEY_PREFIX = "zoho:crm:"
TOKEN_FIELD = "token"  # noqa: S105 (the field's name, not a secret)

# Zoho documents no bound on `ids` per notification. This one is ours: Zoho CRM's record APIs
# change at most 100 records per call, and each id costs a Zoho CRM read and an Attio write, so
# a longer list is refused (400) rather than fanned out. The reconciliation sync repairs a
# refused notification's records.
MAX_NOTIFICATION_IDS = 100


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _from_epoch_ms(value: object, now: datetime) -> datetime | None:
    """`server_time` as a datetime, never later than `now`; None when not an instant.

    Anyone holding the token can write any `server_time`, so a time in the future (the year
    2100) is clamped: nothing the sender claims may outrank what is yet to happen.
    """
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        moment = datetime.fromtimestamp(value / 1000, UTC)
    except (OverflowError, OSError, ValueError):  # e.g. 1e300, Infinity, NaN in the JSON
        return None
    return min(moment, now)


def stored_body(data: dict[str, Any]) -> str:
    """The notification as the ledger keeps it: without the token, keys sorted."""
    return json.dumps({k: v for k, v in data.items() if k != TOKEN_FIELD}, sort_keys=True)


def _events(data: dict[str, Any], raw: RawRequest, now: datetime) -> list[WebhookEvent]:
    module, operation, ids = data.get("module"), data.get("operation"), data.get("ids")
    if not isinstance(module, str) or not isinstance(operation, str):
        raise MalformedPayloadError("Zoho CRM notification lacks `module` or `operation`")
    if not isinstance(ids, list) or not all(isinstance(i, str | int) for i in ids):
        raise MalformedPayloadError("Zoho CRM notification `ids` must be a list of ids")
    if len(ids) > MAX_NOTIFICATION_IDS:
        raise MalformedPayloadError(
            f"Zoho CRM notification lists {len(ids)} ids; at most {MAX_NOTIFICATION_IDS} are "
            "accepted in one notification"
        )
    # One event per distinct record: a repeated id would re-fetch and rewrite the same record.
    record_ids = list(dict.fromkeys(str(record_id) for record_id in ids))
    kept = RawRequest(
        body=stored_body(data),
        headers={k: v for k, v in raw.headers.items() if k == "content-type"},
        query=raw.query,
        path=raw.path,
    )
    server_time = data.get("server_time")
    occurred_at = _from_epoch_ms(server_time, now)
    digest = body_digest(kept.body_bytes)
    when = f"{server_time}:{digest}" if occurred_at else f"sha256-{digest}"
    return [
        WebhookEvent(
            source=Source.zoho,
            event_type=f"crm.{module}.{operation}",
            event_key=f"{ZOHO_CRM_KEY_PREFIX}{module}:{record_id}:{when}",
            occurred_at=occurred_at,
            payload={"module": module, "operation": operation, "id": record_id},
            raw=kept,
        )
        for record_id in record_ids
    ]


class ZohoCrmSource:
    """Live notifications: the token and channel are checked, then dropped from the event."""

    source = Source.zoho

    def __init__(
        self,
        token: str,
        channel_ids: Collection[str],
        *,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._token = token
        self._channel_ids = frozenset(channel_ids)
        self._clock = clock

    async def events_from(self, raw: RawRequest) -> list[WebhookEvent]:
        data = decode_json_object(raw.body_bytes, "Zoho CRM notification")
        verify_zoho_crm_token(
            data.get(TOKEN_FIELD), self._token, data.get("channel_id"), self._channel_ids
        )
        return _events(data, raw, self._clock())


class ZohoCrmLedgerSource:
    """Rebuilds a CRM notification's events from its ledger record, for replays.

    The stored body has no token to check. An edited body no longer matches the digest in
    its record's key (the replay is refused), and the handler fetches the product from Zoho
    with the bridge's own credentials either way, so a record edited in Attio injects nothing.
    """

    source = Source.zoho

    def __init__(self, channel_ids: Collection[str], *, clock: Callable[[], datetime] = _utcnow):
        self._channel_ids = frozenset(channel_ids)
        self._clock = clock

    async def events_from(self, raw: RawRequest) -> list[WebhookEvent]:
        data = decode_json_object(raw.body_bytes, "Zoho CRM ledger record")
        if TOKEN_FIELD in data:
            raise MalformedPayloadError("Zoho CRM ledger record holds a token; it is refused")
        if str(data.get("channel_id")).strip() not in self._channel_ids:
            raise MalformedPayloadError("Zoho CRM ledger record is for an unknown channel")
        return _events(data, raw, self._clock())
