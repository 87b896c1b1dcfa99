"""The Attio source: one event per array item, own writes marked, verify before parsing."""

from __future__ import annotations

import json

import pytest

from app.errors import MalformedPayloadError, SignatureError
from app.events.model import RawRequest
from app.events.sources import AttioSource
from app.events.sources._json import body_digest
from app.events.sources.attio import stored_key_event
from testkit.signing import (
    ATTIO_TEST_SECRET,
    attio_signature,
)

OWN_ACTOR = "8e2d4c1a-3b5f-4e6d-8a7b-9c0d1e2f3a4b"


def attio_raw(payload: dict, *, key: str | None = "idem-1") -> RawRequest:
    body = json.dumps(payload)
    headers = {
        "content-type": "application/json",
        "attio-signature": attio_signature(body.encode()),
    }
    if key:
        headers["idempotency-key"] = key
    return RawRequest(body=body, headers=headers)


def attio_event(event_type: str = "record.updated", actor_type: str = "workspace-member") -> dict:
    return {
        "event_type": event_type,
        "id": {"workspace_id": "w", "object_id": "o", "record_id": "r", "attribute_id": "a"},
        "actor": {"type": actor_type, "id": OWN_ACTOR},
    }


async def test_attio_source_one_event_per_array_item() -> None:
    source = AttioSource(ATTIO_TEST_SECRET, own_actor_ids=[])
    raw = attio_raw({"webhook_id": "wh", "events": [attio_event(), attio_event("record.created")]})
    events = await source.events_from(raw)
    assert [e.event_type for e in events] == ["record.updated", "record.created"]
    digest = body_digest(raw.body_bytes)
    assert [e.event_key for e in events] == [f"attio:sha256-{digest}:0", f"attio:sha256-{digest}:1"]
    assert events[0].payload["webhook_id"] == "wh"
    assert all(e.ignore_reason is None for e in events)


async def test_attio_source_marks_own_writes() -> None:
    source = AttioSource(ATTIO_TEST_SECRET, own_actor_ids=[OWN_ACTOR])
    events = await source.events_from(attio_raw({"events": [attio_event(actor_type="api-token")]}))
    assert events[0].ignore_reason


@pytest.mark.parametrize("actor_id", [[OWN_ACTOR], {"id": OWN_ACTOR}, None, 7])
async def test_attio_source_actor_id_that_is_not_a_string_is_not_ours(actor_id: object) -> None:
    event = {**attio_event(), "actor": {"type": "api-token", "id": actor_id}}
    source = AttioSource(ATTIO_TEST_SECRET, own_actor_ids=[OWN_ACTOR])
    events = await source.events_from(attio_raw({"events": [event]}))
    assert events[0].ignore_reason is None


async def test_attio_source_key_without_idempotency_header_is_stable() -> None:
    source = AttioSource(ATTIO_TEST_SECRET)
    raw = attio_raw({"events": [attio_event()]}, key=None)
    first, second = await source.events_from(raw), await source.events_from(raw)
    assert first[0].event_key == second[0].event_key
    assert first[0].event_key.startswith("attio:sha256-")


async def test_attio_source_key_comes_from_the_signed_body_not_the_idempotency_header() -> None:
    source = AttioSource(ATTIO_TEST_SECRET)
    payload = {"webhook_id": "wh", "events": [attio_event()]}
    keys = {(await source.events_from(attio_raw(payload, key=k)))[0].event_key for k in "abc"}
    assert len(keys) == 1
    other = {"webhook_id": "wh", "events": [attio_event("record.created")]}
    assert (await source.events_from(attio_raw(other)))[0].event_key not in keys


async def test_a_ledger_record_keyed_by_an_idempotency_key_still_finds_its_event() -> None:
    source = AttioSource(ATTIO_TEST_SECRET)
    raw = attio_raw({"webhook_id": "wh", "events": [attio_event(), attio_event("record.created")]})
    events = await source.events_from(raw)
    (found,) = [e for e in [stored_key_event(events, "attio:idem-1:1")] if e is not None]
    assert found.event_key == "attio:idem-1:1" and found.event_type == "record.created"
    assert stored_key_event(events, "attio:idem-1:2") is None
    assert stored_key_event(events, "attio:sha256-0123:0") is None  # a digest must match
    assert stored_key_event(events, "zoho:idem-1:0") is None


@pytest.mark.parametrize(
    "payload", [{"events": "x"}, {"nope": []}, {"events": [{"event_type": 1}]}, {"events": [3]}]
)
async def test_attio_source_rejects_signed_but_unusable_bodies(payload: dict) -> None:
    with pytest.raises(MalformedPayloadError):
        await AttioSource(ATTIO_TEST_SECRET).events_from(attio_raw(payload))


async def test_attio_source_verifies_before_parsing() -> None:
    raw = RawRequest(body="not json", headers={"attio-signature": "00" * 32})
    with pytest.raises(SignatureError):
        await AttioSource(ATTIO_TEST_SECRET).events_from(raw)
