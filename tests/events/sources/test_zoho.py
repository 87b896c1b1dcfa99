"""The Zoho item webhook source."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from app.events.model import RawRequest
from app.events.sources import ZohoSource
from testkit.signing import (
    ZOHO_TEST_SECRET,
    zoho_signature,
)


async def test_zoho_source_item_event() -> None:
    body = json.dumps(
        {"item": {"item_id": "2000000000101", "last_modified_time": "2026-05-02T09:14:03-0700"}}
    ).encode()
    raw = RawRequest(
        body=body.decode(),
        headers={
            "content-type": "application/json",
            "x-zoho-webhook-signature": zoho_signature(body),
        },
    )
    (event,) = await ZohoSource(ZOHO_TEST_SECRET).events_from(raw)
    assert event.event_type == "item"
    assert event.event_key == "zoho:item:2000000000101:2026-05-02T09:14:03-0700"
    assert event.occurred_at == datetime(2026, 5, 2, 16, 14, 3, tzinfo=UTC)
    assert event.payload["item_id"] == "2000000000101"
