"""The Zoho CRM notification source: token and channel, ids, server time."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from app.errors import MalformedPayloadError, SignatureError
from app.events.model import RawRequest
from app.events.sources import ZohoCrmSource

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
    assert events[0].event_key == "zoho:crm:Products:5725767000003000064:1718117126473"
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
