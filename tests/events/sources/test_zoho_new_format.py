"""Books' newer webhook format (`is_new_response_format`, `events`): a clear 400, never ignored."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.errors import MalformedPayloadError
from app.events.sources.zoho import reject_new_format
from testkit.fake_zoho import ITEM
from testkit.signing import zoho_signed_headers
from tests.e2e.conftest import Harness, harness

__all__ = ["harness"]  # the end-to-end fixture

NEW_FORMAT = {
    "is_new_response_format": True,
    "events": [{"event_type": "item_updated", "data": {"item_id": ITEM["item_id"]}}],
}


@pytest.mark.parametrize(
    "body",
    [
        NEW_FORMAT,
        {"is_new_response_format": True, "data": {"item_id": "1"}},
        {"is_new_response_format": "true", "payload": {"item_id": "1"}},
        {"events": []},
        {"events": [{"item": {"item_id": "1"}}], "organization_id": "60000000001"},
    ],
)
def test_the_newer_format_is_refused_by_name(body: dict[str, Any]) -> None:
    with pytest.raises(MalformedPayloadError, match="newer webhook format"):
        reject_new_format(body)


@pytest.mark.parametrize(
    "body",
    [
        {"item": ITEM},
        {"item": ITEM, "is_new_response_format": True},  # the record is there: use it
        {"is_new_response_format": False, "item": ITEM},
        {"is_new_response_format": False, "contact": {"contact_id": "1"}},
    ],
)
def test_the_default_payload_passes(body: dict[str, Any]) -> None:
    reject_new_format(body)


def test_a_signed_new_format_delivery_is_answered_400_naming_the_format(harness: Harness) -> None:
    body = json.dumps(NEW_FORMAT).encode()
    response = harness.client.post(
        "/webhooks/zoho", content=body, headers=zoho_signed_headers(body)
    )
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "is_new_response_format" in detail and "Default Payload" in detail
    assert harness.records("services") == [] and harness.records("bridge_events") == []
