"""The Zoho item webhook source."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from app.errors import MalformedPayloadError, SignatureError
from app.events.model import RawRequest
from app.events.sources import (
    ZohoSource,
)
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
    assert event.event_key.startswith("zoho:item:2000000000101:2026-05-02T09:14:03-0700:")
    assert event.occurred_at == datetime(2026, 5, 2, 16, 14, 3, tzinfo=UTC)
    assert event.payload["item_id"] == "2000000000101"


def zoho_raw(body: bytes, *, query: str = "", signed_query: str | None = None) -> RawRequest:
    signed = query if signed_query is None else signed_query
    headers = {
        "content-type": "application/json",
        "x-zoho-webhook-signature": zoho_signature(body, raw_query=signed),
    }
    return RawRequest(body=body.decode(), headers=headers, query=query)


ZOHO_ITEM = {"item_id": "2000000000101", "last_modified_time": "2026-05-02T09:14:03-0700"}


async def zoho_key(item: dict, query: str = "") -> str:
    body = json.dumps({"item": item}).encode()
    (event,) = await ZohoSource(ZOHO_TEST_SECRET).events_from(zoho_raw(body, query=query))
    return event.event_key


async def test_zoho_keys_tell_apart_bodies_of_one_version_and_stay_stable() -> None:
    key = await zoho_key(ZOHO_ITEM)
    assert await zoho_key(ZOHO_ITEM) == key  # a redelivery dedupes
    assert await zoho_key({**ZOHO_ITEM, "name": "Other"}) != key  # same id and time
    assert await zoho_key(ZOHO_ITEM, "action=deleted") != key  # the deletion of that version


@pytest.mark.parametrize(
    ("query", "signed_as"),
    [
        ("actiondeleted=", "action=deleted"),  # Zoho signs "actiondeleted" for both
        ("a=ctiondeleted", "action=deleted"),
        ("action=delete&d=", "action=deleted"),
        ("action=deleted&source=x", None),
        ("action=deleted&action=deleted", None),
        ("action=", None),
        ("action=reactivate", None),
    ],
)
async def test_zoho_refuses_url_parameters_it_does_not_know(
    query: str, signed_as: str | None
) -> None:
    body = json.dumps({"item": ZOHO_ITEM}).encode()
    with pytest.raises(MalformedPayloadError):
        await ZohoSource(ZOHO_TEST_SECRET).events_from(
            zoho_raw(body, query=query, signed_query=signed_as)
        )


async def test_zoho_refuses_unsigned_before_looking_at_parameters() -> None:
    raw = RawRequest(
        body="{}", headers={"x-zoho-webhook-signature": "00" * 32}, query="actiondeleted="
    )
    with pytest.raises(SignatureError):
        await ZohoSource(ZOHO_TEST_SECRET).events_from(raw)


@pytest.mark.parametrize(
    "rate_json",
    [
        "1e29",
        "1" * 4300,
        "-" + "9" * 40,
        "NaN",
        "Infinity",
        "-Infinity",
        '"1e29"',
        '"NaN"',
        "100000000000",
        '"12abc"',
        "true",
        "[1]",
    ],
)
async def test_zoho_unusable_rate_is_a_400_at_intake(rate_json: str) -> None:
    body = ('{"item": {"item_id": "2000000000101", "rate": ' + rate_json + "}}").encode()
    with pytest.raises(MalformedPayloadError, match="rate"):
        await ZohoSource(ZOHO_TEST_SECRET).events_from(zoho_raw(body))
