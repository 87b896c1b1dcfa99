"""Pure parts of the event pipeline: sources, dispatcher, retry schedule, error classes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from app.clients.attio import AttioAPIError
from app.errors import MalformedPayloadError, SignatureError
from app.events.dispatcher import Dispatcher
from app.events.ledger import RetrySchedule
from app.events.model import RawRequest, Source, WebhookEvent
from app.events.processor import is_permanent
from app.events.sources import (
    AttioSource,
    BraintreeSource,
    ZohoCrmLedgerSource,
    ZohoCrmSource,
    ZohoSource,
)
from app.signatures import BraintreeWebhookVerifier
from testkit.signing import (
    ATTIO_TEST_SECRET,
    BRAINTREE_TEST_CREDENTIALS,
    ZOHO_TEST_SECRET,
    attio_signature,
    braintree_sample_form,
    zoho_signature,
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
    assert [e.event_key for e in events] == ["attio:idem-1:0", "attio:idem-1:1"]
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


async def test_braintree_source_key_is_kind_subject_timestamp() -> None:
    verifier = BraintreeWebhookVerifier(**BRAINTREE_TEST_CREDENTIALS)
    body = braintree_sample_form("subscription_went_active", "sub_42")
    raw = RawRequest(
        body=body.decode(), headers={"content-type": "application/x-www-form-urlencoded"}
    )
    (event,) = await BraintreeSource(verifier).events_from(raw)
    assert event.event_type == "subscription_went_active"
    assert event.event_key.startswith("braintree:subscription_went_active:sub_42:")
    assert event.occurred_at is not None and event.occurred_at.tzinfo is UTC
    assert event.payload.subscription.id == "sub_42"


def make_event(source: Source, event_type: str) -> WebhookEvent:
    return WebhookEvent(
        source=source, event_type=event_type, event_key="k", raw=RawRequest(body="")
    )


async def test_dispatcher_exact_beats_pattern_and_sources_are_separate() -> None:
    dispatcher = Dispatcher()

    async def exact(_e: WebhookEvent) -> None: ...
    async def pattern(_e: WebhookEvent) -> None: ...

    dispatcher.register(Source.braintree, "subscription_*", pattern)
    dispatcher.register(Source.braintree, "subscription_canceled", exact)
    assert dispatcher.handler_for(make_event(Source.braintree, "subscription_canceled")) is exact
    assert dispatcher.handler_for(make_event(Source.braintree, "subscription_expired")) is pattern
    assert dispatcher.handler_for(make_event(Source.attio, "subscription_expired")) is None
    assert dispatcher.handler_for(make_event(Source.braintree, "check")) is None


def test_retry_schedule_steps_then_dead() -> None:
    schedule = RetrySchedule((60, 300))
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert schedule.next_attempt_at(1, now) == now + timedelta(seconds=60)
    assert schedule.next_attempt_at(2, now) == now + timedelta(seconds=300)
    assert schedule.next_attempt_at(3, now) is None


def attio_error(status: int, code: str) -> AttioAPIError:
    response = httpx.Response(status, json={"status_code": status, "code": code, "message": "m"})
    return AttioAPIError.from_response(response)


@pytest.mark.parametrize(
    ("error", "permanent"),
    [
        (attio_error(400, "validation_type"), True),
        (attio_error(404, "not_found"), True),
        (attio_error(409, "slug_conflict"), True),
        (attio_error(409, "concurrent_write_conflict"), False),
        (attio_error(429, "rate_limit_exceeded"), False),
        (attio_error(500, "internal"), False),
        (MalformedPayloadError("bad"), True),
        (TimeoutError(), False),
        (KeyError("bug"), False),
    ],
)
def test_error_classification(error: Exception, permanent: bool) -> None:
    assert is_permanent(error) is permanent


CRM_TOKEN = "crm-channel-token-0123456789"


def crm_raw(**overrides: object) -> RawRequest:
    body = {
        "server_time": 1718117126473,
        "query_params": {},
        "module": "Products",
        "resource_uri": "https://www.zohoapis.com/crm/v2/Products",
        "ids": ["5725767000003000064", "5725767000003000065"],
        "affected_fields": [],
        "operation": "update",
        "channel_id": "1000000068001",
        "token": CRM_TOKEN,
        **overrides,
    }
    return RawRequest(body=json.dumps(body), headers={"content-type": "application/json"})


async def test_zoho_crm_source_one_event_per_id() -> None:
    source = ZohoCrmSource(CRM_TOKEN, ["1000000068001"])
    events = await source.events_from(crm_raw())
    assert [e.payload["id"] for e in events] == ["5725767000003000064", "5725767000003000065"]
    assert {e.event_type for e in events} == {"crm.Products.update"}
    assert events[0].event_key.startswith("zoho:crm:Products:5725767000003000064:1718117126473:")
    assert events[0].occurred_at == datetime(2024, 6, 11, 14, 45, 26, 473000, tzinfo=UTC)


@pytest.mark.parametrize(
    "overrides", [{"token": "wrong"}, {"token": None}, {"channel_id": "999"}, {"channel_id": None}]
)
async def test_zoho_crm_source_rejects_wrong_token_or_channel(overrides: dict) -> None:
    with pytest.raises(SignatureError):
        await ZohoCrmSource(CRM_TOKEN, ["1000000068001"]).events_from(crm_raw(**overrides))


@pytest.mark.parametrize("server_time", [1e300, 10**30, -(10**20), float("inf"), float("nan")])
async def test_zoho_crm_source_unrepresentable_server_time_is_no_time(server_time: float) -> None:
    source = ZohoCrmSource(CRM_TOKEN, ["1000000068001"])
    events = await source.events_from(crm_raw(server_time=server_time))
    assert [e.occurred_at for e in events] == [None, None]
    assert events[0].event_key.startswith("zoho:crm:Products:5725767000003000064:sha256-")


async def test_zoho_crm_source_rejects_unusable_ids() -> None:
    with pytest.raises(MalformedPayloadError):
        await ZohoCrmSource(CRM_TOKEN, ["1000000068001"]).events_from(crm_raw(ids="x"))


# -- Zoho: keys, URL parameters, numbers, the CRM token ---------------------------------------


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


async def test_zoho_crm_events_carry_no_token_and_keys_hold_a_digest() -> None:
    source = ZohoCrmSource(CRM_TOKEN, ["1000000068001"])
    events = await source.events_from(crm_raw())
    assert all(
        CRM_TOKEN not in e.raw.body and "token" not in json.loads(e.raw.body) for e in events
    )
    assert json.loads(events[0].raw.body)["ids"] == ["5725767000003000064", "5725767000003000065"]
    other = await source.events_from(crm_raw(operation="delete"))
    assert other[0].event_key != events[0].event_key  # same id and time, another body
    again = await source.events_from(crm_raw())
    assert [e.event_key for e in again] == [e.event_key for e in events]


async def test_zoho_crm_time_in_the_future_is_clamped_to_now() -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    source = ZohoCrmSource(CRM_TOKEN, ["1000000068001"], clock=lambda: now)
    year_2100 = int(datetime(2100, 1, 1, tzinfo=UTC).timestamp() * 1000)
    events = await source.events_from(crm_raw(server_time=year_2100))
    assert {e.occurred_at for e in events} == {now}


async def test_zoho_crm_ledger_source_rebuilds_only_unedited_records() -> None:
    live = await ZohoCrmSource(CRM_TOKEN, ["1000000068001"]).events_from(crm_raw())
    ledger_source = ZohoCrmLedgerSource(["1000000068001"])
    stored = live[0].raw
    rebuilt = await ledger_source.events_from(stored)
    assert [e.event_key for e in rebuilt] == [e.event_key for e in live]

    edited = json.loads(stored.body) | {"operation": "delete"}
    keys = {
        e.event_key
        for e in await ledger_source.events_from(
            stored.model_copy(update={"body": json.dumps(edited)})
        )
    }
    assert live[0].event_key not in keys  # the replayer refuses: no such event

    with pytest.raises(MalformedPayloadError):  # a stored token (or one put back) is refused
        await ledger_source.events_from(stored.model_copy(update={"body": crm_raw().body}))
