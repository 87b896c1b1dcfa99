"""Attio → bridge → Braintree with real deliveries: the sandbox signs and sends its own record
events to the bridge the way Attio does, filtered by the webhook the bridge registers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from app.services.attio.webhooks import register_webhook
from attio_sandbox.config import DEFAULT_ACTOR_ID
from testkit.signing import ATTIO_TEST_SECRET
from tests.e2e.conftest import Harness, start_harness
from tests.services.attio.test_handlers import FakeBraintree

TARGET = "https://bridge.example/webhooks/attio"


@pytest.fixture
def braintree() -> FakeBraintree:
    return FakeBraintree(
        cust_1={"first_name": "Ada", "last_name": "Byron", "email": "ada@example.com"}
    )


@pytest.fixture
def h(braintree: FakeBraintree) -> Iterator[Harness]:
    env = {"ATTIO_OWN_ACTOR_IDS": DEFAULT_ACTOR_ID}
    for harness in start_harness(env, braintree=braintree):
        webhooks = harness.sandbox.webhooks
        webhooks.config.secret = ATTIO_TEST_SECRET  # the secret the bridge is configured with
        webhooks.transport = httpx.ASGITransport(app=harness.app)
        harness.client.portal.call(webhooks.start)

        async def register(harness: Harness = harness) -> None:
            async with harness.attio_client() as attio:
                await register_webhook(attio, target_url=TARGET, own_actor_ids=[DEFAULT_ACTOR_ID])

        asyncio.run(register())
        yield harness


def as_member(h: Harness, write) -> dict:
    """A change made by a person in Attio's web app, then every delivery it causes."""
    store = h.sandbox.store
    with store.acting_as(h.sandbox.workspace_member()):
        record = write(store)
    h.sandbox.webhooks.wait_idle()
    return record


def name(first: str, last: str) -> list[dict[str, str]]:
    return [{"first_name": first, "last_name": last, "full_name": f"{first} {last}"}]


def create_ada(h: Harness) -> str:
    record = as_member(
        h,
        lambda store: store.create_record(
            "people",
            {
                "email_addresses": ["ada@example.com"],
                "name": name("Ada", "Byron"),
                "braintree_customer_id": "cust_1",
            },
        ),
    )
    return record.id


def answered(h: Harness) -> list[int | None]:
    return [d.status for d in h.sandbox.webhooks.deliveries]


def test_a_name_change_reaches_braintree_once(h: Harness, braintree: FakeBraintree) -> None:
    ada = create_ada(h)
    assert braintree.updates == []  # created with the name Braintree already has
    as_member(
        h, lambda s: s.update_record("people", ada, {"name": name("Ada", "Lovelace")}, append=False)
    )
    assert braintree.updates == [("cust_1", {"last_name": "Lovelace"})]
    assert set(answered(h)) == {200}


def test_an_unrelated_update_makes_no_braintree_call(h: Harness, braintree: FakeBraintree) -> None:
    ada = create_ada(h)
    finds = braintree.finds
    as_member(h, lambda s: s.update_record("people", ada, {"job_title": "CTO"}, append=False))
    assert braintree.finds == finds
    assert braintree.updates == []


def test_the_bridges_own_writes_trigger_nothing(h: Harness, braintree: FakeBraintree) -> None:
    ada = create_ada(h)
    delivered = len(h.sandbox.webhooks.deliveries)
    h.sandbox.requests.clear()

    async def bridge_writes() -> None:  # written with the bridge's own token, as its services do
        async with h.attio_client() as attio:
            await attio.update_record("people", ada, {"name": name("Ada", "King")})

    asyncio.run(bridge_writes())
    h.sandbox.webhooks.wait_idle()
    assert len(h.sandbox.webhooks.deliveries) == delivered  # filtered out in Attio already
    assert braintree.updates == []
    assert h.sandbox.requests.count(path_regex="^/v2/objects/people/records/") == 1  # ours only


def test_a_merge_repoints_subscriptions_and_payments(h: Harness) -> None:
    ada = create_ada(h)
    work = as_member(
        h,
        lambda s: s.create_record(
            "people", {"email_addresses": ["ada@work.example"], "name": name("Ada", "L")}
        ),
    ).id

    async def billing() -> None:
        async with h.attio_client() as attio:
            for obj, key, value in (
                ("subscriptions", "braintree_subscription_id", "sub_1"),
                ("payments", "braintree_transaction_id", "txn_1"),
            ):
                await attio.assert_record(
                    obj,
                    matching_attribute=key,
                    values={
                        key: value,
                        "braintree_customer_id": "cust_1",
                        "person": [{"target_object": "people", "target_record_id": ada}],
                    },
                )

    asyncio.run(billing())
    survivor = as_member(h, lambda s: s.merge_records("people", work, ada, mode="new-record"))
    merged_events = [
        e
        for d in h.sandbox.webhooks.deliveries
        for e in d.events
        if e["event_type"] == "record.merged"
    ]
    assert len(merged_events) == 2
    assert set(answered(h)) == {200}
    for obj in ("subscriptions", "payments"):
        (row,) = h.records(obj)
        assert row["values"]["person"] == survivor.id
    people = {r["record_id"]: r["values"] for r in h.records("people")}
    assert people[survivor.id]["braintree_customer_id"] == "cust_1"
