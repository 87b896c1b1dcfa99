"""The Zoho CRM notification source: token and channel, ids, server time."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from app.errors import MalformedPayloadError, SignatureError
from app.events.model import RawRequest
from app.events.sources import (
    ZohoCrmLedgerSource,
    ZohoCrmSource,
)
from app.events.sources.zoho_crm import MAX_NOTIFICATION_IDS

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


async def test_zoho_crm_source_repeated_ids_are_one_event_each() -> None:
    source = ZohoCrmSource(CRM_TOKEN, ["1000000068001"])
    repeated = ["5725767000003000064"] * 60 + [5725767000003000065, "5725767000003000065"]
    events = await source.events_from(crm_raw(ids=repeated))
    assert [e.payload["id"] for e in events] == ["5725767000003000064", "5725767000003000065"]


async def test_zoho_crm_source_refuses_more_ids_than_one_notification_holds() -> None:
    source = ZohoCrmSource(CRM_TOKEN, ["1000000068001"])
    at_bound = [str(5725767000003000000 + i) for i in range(MAX_NOTIFICATION_IDS)]
    assert len(await source.events_from(crm_raw(ids=at_bound))) == MAX_NOTIFICATION_IDS
    with pytest.raises(MalformedPayloadError, match="ids"):
        await source.events_from(crm_raw(ids=[*at_bound, "5725767000003999999"]))
    # Listing one id 300 times is refused too: no notification of Zoho's lists that many.
    with pytest.raises(MalformedPayloadError, match="ids"):
        await source.events_from(crm_raw(ids=["5725767000003000064"] * 300))
