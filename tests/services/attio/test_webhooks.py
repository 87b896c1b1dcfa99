"""Registering the bridge's Attio webhook: subscriptions, echo guard, create vs update."""

from __future__ import annotations

import json

import pytest
import respx

from app.clients.attio import AttioClient
from app.services.attio.webhooks import (
    RECORD_EVENTS,
    WATCHED_OBJECTS,
    desired_subscriptions,
    echo_guard,
    register_webhook,
)

BASE = "https://attio.test"
TARGET = "https://b/webhooks/attio"
OBJECT_IDS = {slug: f"{slug}-uuid" for slug in WATCHED_OBJECTS}


def test_echo_guard_prefers_exact_actor_ids() -> None:
    assert echo_guard(["b", "a"]) == [
        {"field": "actor.id", "operator": "not_equals", "value": "a"},
        {"field": "actor.id", "operator": "not_equals", "value": "b"},
    ]
    assert echo_guard([]) == [
        {"field": "actor.type", "operator": "not_equals", "value": "api-token"}
    ]


def test_one_flat_filtered_subscription_per_event_type_and_object() -> None:
    subscriptions = desired_subscriptions(OBJECT_IDS, ["me"])
    assert len(subscriptions) == len(RECORD_EVENTS) * len(WATCHED_OBJECTS)
    first = subscriptions[0]
    assert first["event_type"] == "record.created"
    assert first["filter"] == {
        "$and": [
            {"field": "id.object_id", "operator": "equals", "value": "people-uuid"},
            {"field": "actor.id", "operator": "not_equals", "value": "me"},
        ]
    }


@pytest.fixture
def attio():
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        for slug in WATCHED_OBJECTS:
            mock.get(f"/v2/objects/{slug}").respond(
                json={"data": {"id": {"object_id": OBJECT_IDS[slug]}, "api_slug": slug}}
            )
        yield mock


async def test_register_creates_and_returns_the_secret(attio: respx.MockRouter) -> None:
    attio.get("/v2/webhooks").respond(json={"data": []})
    create = attio.post("/v2/webhooks").respond(
        json={"data": {"id": {"webhook_id": "wh-new"}, "secret": "shh"}}
    )
    async with AttioClient(api_key="k", base_url=BASE) as client:
        result = await register_webhook(client, target_url=TARGET, own_actor_ids=[])
    assert (result.webhook_id, result.created, result.secret) == ("wh-new", True, "shh")
    sent = json.loads(create.calls.last.request.content)["data"]
    assert sent["target_url"] == TARGET
    assert len(sent["subscriptions"]) == result.subscriptions == 16


async def test_register_updates_an_existing_webhook(attio: respx.MockRouter) -> None:
    attio.get("/v2/webhooks").respond(
        json={"data": [{"id": {"webhook_id": "wh-1"}, "target_url": TARGET}]}
    )
    patch = attio.patch("/v2/webhooks/wh-1").respond(json={"data": {}})
    create = attio.post("/v2/webhooks")
    async with AttioClient(api_key="k", base_url=BASE) as client:
        result = await register_webhook(client, target_url=TARGET, own_actor_ids=["me"])
    assert (result.webhook_id, result.created, result.secret) == ("wh-1", False, None)
    assert patch.called and not create.called
