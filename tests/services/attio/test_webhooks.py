"""Registering the bridge's Attio webhook: subscriptions, echo guard, create vs update."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
import respx
from fastapi import FastAPI

from app.clients.attio import AttioClient, AttioRateLimitError, AttioServerError
from app.schema import SchemaBootstrap, schema_for
from app.services.attio.webhooks import (
    RECORD_EVENTS,
    WATCHED_OBJECTS,
    desired_subscriptions,
    echo_guard,
    register_webhook,
    watched_objects,
)
from attio_sandbox.state import SandboxState
from tests.conftest import sandbox_attio_client

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
        mock.get("/v2/objects/bridge_events").respond(
            json={"data": {"id": {"object_id": "ledger-uuid"}, "api_slug": "bridge_events"}}
        )
        mock.get("/v2/objects/bridge_events/attributes").respond(
            json={"data": [{"id": {"attribute_id": "status-uuid"}, "api_slug": "status"}]}
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
    # Four events for each of four objects, and the ledger's status edits (replay from Attio).
    assert len(sent["subscriptions"]) == result.subscriptions == 17
    assert sent["subscriptions"][-1] == {
        "event_type": "record.updated",
        "filter": {
            "$and": [
                {"field": "id.object_id", "operator": "equals", "value": "ledger-uuid"},
                {"field": "id.attribute_id", "operator": "equals", "value": "status-uuid"},
                {"field": "actor.type", "operator": "not_equals", "value": "api-token"},
            ]
        },
    }


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


@pytest.fixture
async def sandbox_attio(sandbox_app: FastAPI) -> AsyncIterator[AttioClient]:
    client = sandbox_attio_client(sandbox_app, max_attempts=3)
    client._wait = lambda _state: 0.0  # retries at once: the sandbox's burst is what is tested
    async with client:
        await SchemaBootstrap(client, currency_code="USD").run(apply=True)
        yield client


def webhooks_at(sandbox: SandboxState, target: str) -> list[str]:
    registry = sandbox.webhooks.registry.webhooks.values()
    return [webhook.id for webhook in registry if webhook.target_url == target]


async def test_a_lost_create_answer_never_leaves_a_second_webhook(
    sandbox_attio: AttioClient, sandbox: SandboxState
) -> None:
    """Attio applies the create but the answer is lost: the bridge looks before it tries
    again, removes the webhook whose secret it never saw, and ends with one it has the secret of."""
    sandbox.configure_faults(
        after_write=True,
        server_error_rate=1.0,
        fault_methods=["POST"],
        fault_path_regex=r"^/v2/webhooks$",
    )
    list_webhooks = sandbox_attio.list_webhooks
    looks = 0

    async def look(**kwargs: int) -> list[dict]:
        nonlocal looks
        looks += 1
        if looks == 2:  # the look after the lost answer: Attio answers again from now on
            sandbox.configure_faults(server_error_rate=0.0)
        return await list_webhooks(**kwargs)

    sandbox_attio.list_webhooks = look  # type: ignore[method-assign]
    result = await register_webhook(sandbox_attio, target_url=TARGET, own_actor_ids=["me"])
    (webhook_id,) = webhooks_at(sandbox, TARGET)
    assert result.created and result.secret and result.webhook_id == webhook_id
    assert sandbox.requests.count(method="POST", path="/v2/webhooks") == 2
    assert sandbox.requests.count(method="DELETE", path_regex="^/v2/webhooks/") == 1


async def test_create_is_not_retried_blindly_but_a_429_is(
    sandbox_attio: AttioClient, sandbox: SandboxState
) -> None:
    sandbox.configure_faults(
        server_error_rate=1.0, fault_methods=["POST"], fault_path_regex=r"^/v2/webhooks$"
    )
    with pytest.raises(AttioServerError):
        await sandbox_attio.create_webhook(target_url=TARGET, subscriptions=[])
    assert sandbox.requests.count(method="POST", path="/v2/webhooks") == 1

    sandbox.configure_faults(server_error_rate=0.0, burst_rate=1.0, burst_seconds=0.05)
    with pytest.raises(AttioRateLimitError):
        # Every call in a burst is refused before Attio applies it: safe to try again.
        await sandbox_attio.create_webhook(target_url=TARGET, subscriptions=[])
    assert sandbox.requests.count(method="POST", path="/v2/webhooks") > 2
    assert webhooks_at(sandbox, TARGET) == []


async def test_without_a_payments_object_the_webhook_watches_what_exists(
    sandbox_app: FastAPI, sandbox: SandboxState
) -> None:
    layout = schema_for(payments_object=False)
    watched = watched_objects(layout)
    assert watched == ("people", "services", "subscriptions")
    async with sandbox_attio_client(sandbox_app) as client:
        await SchemaBootstrap(client, currency_code="USD", schema=layout).run(apply=True)
        result = await register_webhook(
            client, target_url=TARGET, own_actor_ids=["me"], watched=watched
        )
    assert result.created and result.subscriptions == len(RECORD_EVENTS) * 3 + 1
    assert watched_objects(schema_for(payments_object=True)) == WATCHED_OBJECTS
