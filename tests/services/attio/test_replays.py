"""Replay from inside Attio: an operator sets ledger records to `replay`; the Attio webhook
(delivered by the sandbox, as Attio would) makes the bridge replay each of them once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx
import pytest

from app.events.model import Source
from app.schema import BRIDGE_EVENTS
from app.services.attio.webhooks import register_webhook
from attio_sandbox.config import DEFAULT_ACTOR_ID
from testkit.signing import ATTIO_TEST_SECRET, attio_signed_headers, braintree_sample_form
from tests.e2e.conftest import Harness, start_harness
from tests.e2e.test_ledger import FlakyHandler

TARGET = "https://bridge.example/webhooks/attio"
KIND = "subscription_went_active"


@pytest.fixture
def h() -> Iterator[Harness]:
    for harness in start_harness():  # ATTIO_OWN_ACTOR_IDS unset: the bridge learns its own id
        webhooks = harness.sandbox.webhooks
        webhooks.config.secret = ATTIO_TEST_SECRET
        webhooks.transport = httpx.ASGITransport(app=harness.app)
        harness.client.portal.call(webhooks.start)

        async def register(harness: Harness = harness) -> None:
            async with harness.attio_client() as attio:
                await register_webhook(attio, target_url=TARGET, own_actor_ids=[])

        asyncio.run(register())
        yield harness


def fail_braintree(h: Harness, *subscriptions: str, failures: int = 1) -> FlakyHandler:
    """One failed ledger entry per subscription id (the handler fails once for each)."""
    handler = FlakyHandler(failures=failures * len(subscriptions))
    h.bridge.dispatcher.register(Source.braintree, KIND, handler)
    for subscription in subscriptions:
        response = h.client.post(
            "/webhooks/braintree",
            content=braintree_sample_form(KIND, subscription),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.json()["recorded"] == 1
    return handler


def entries(h: Harness) -> dict[str, dict]:
    return {
        r["values"]["event_key"]: {**r["values"], "id": r["record_id"]}
        for r in h.records(BRIDGE_EVENTS)
    }


def set_replay_as_member(h: Harness, *record_ids: str) -> None:
    """An operator's edit in Attio's table (one record, or a bulk edit of several)."""
    store = h.sandbox.store
    with store.acting_as(h.sandbox.workspace_member()):
        for record_id in record_ids:
            store.update_record(BRIDGE_EVENTS, record_id, {"status": "replay"}, append=False)
    h.sandbox.webhooks.wait_idle()


def test_setting_replay_in_attio_replays_the_entry(h: Harness) -> None:
    handler = fail_braintree(h, "sub_1")
    ((key, entry),) = entries(h).items()
    assert entry["status"] == "failed"
    set_replay_as_member(h, entry["id"])
    after = entries(h)[key]
    assert after["status"] == "replayed"
    assert after["replay_requested_by"] == "Sandbox Operator <operator@sandbox.test>"
    assert len(handler.calls) == 2  # the live delivery, then the replay


def test_a_replay_that_fails_again_says_so(h: Harness) -> None:
    handler = fail_braintree(h, "sub_1", failures=2)
    ((key, entry),) = entries(h).items()
    set_replay_as_member(h, entry["id"])
    after = entries(h)[key]
    assert after["status"] == "failed" and "Attio is down" in after["error"]
    assert after["attempts"] == 2 and len(handler.calls) == 2


def test_a_bulk_edit_replays_each_entry_once(h: Harness) -> None:
    handler = fail_braintree(h, "sub_1", "sub_2", "sub_3")
    rows = entries(h)
    set_replay_as_member(h, *(row["id"] for row in rows.values()))
    assert {row["status"] for row in entries(h).values()} == {"replayed"}
    assert len(handler.calls) == 3 + 3


def test_the_bridges_own_token_never_triggers_a_replay(h: Harness) -> None:
    """Even when the webhook's filter lets the edit through (another actor id configured)."""
    handler = fail_braintree(h, "sub_1")
    ((key, entry),) = entries(h).items()

    async def set_by_token() -> None:
        async with h.attio_client() as attio:
            await attio.update_record(BRIDGE_EVENTS, entry["id"], {"status": "replay"})

    asyncio.run(set_by_token())
    h.sandbox.webhooks.wait_idle()
    assert entries(h)[key]["status"] == "replay"  # Attio filtered the token's edit out
    body = status_edit(h, entry["id"], actor={"type": "api-token", "id": DEFAULT_ACTOR_ID})
    assert post(h, body, "own-edit").status_code == 200
    assert entries(h)[key]["status"] == "replay" and len(handler.calls) == 1


def status_edit(h: Harness, record_id: str, *, actor: dict[str, str]) -> bytes:
    ledger = h.sandbox.store.get_object(BRIDGE_EVENTS)
    event = {
        "event_type": "record.updated",
        "id": {
            "workspace_id": h.sandbox.config.workspace_id,
            "object_id": ledger.id,
            "record_id": record_id,
            "attribute_id": ledger.find_attribute("status").id,  # type: ignore[union-attr]
        },
        "actor": actor,
    }
    return json.dumps({"webhook_id": "wh-1", "events": [event]}).encode()


def post(h: Harness, body: bytes, key: str) -> httpx.Response:
    headers = {**attio_signed_headers(body), "Idempotency-Key": key}
    return h.client.post("/webhooks/attio", content=body, headers=headers)


def test_a_redelivered_webhook_replays_once(h: Harness) -> None:
    handler = fail_braintree(h, "sub_1")
    ((key, entry),) = entries(h).items()

    async def set_status() -> None:  # the edit itself, without its webhook
        async with h.attio_client() as attio:
            await attio.update_record(BRIDGE_EVENTS, entry["id"], {"status": "replay"})

    asyncio.run(set_status())
    body = status_edit(h, entry["id"], actor={"type": "workspace-member", "id": "m-1"})
    for _ in range(2):  # Attio redelivers with the same Idempotency-Key
        assert post(h, body, "edit-1").status_code == 200
    assert entries(h)[key]["status"] == "replayed"
    assert entries(h)[key]["replay_requested_by"] == "workspace-member m-1"
    assert len(handler.calls) == 2  # the live delivery and one replay
