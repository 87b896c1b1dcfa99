"""Attio's webhooks: the /v2/webhooks endpoints and signed deliveries of record events."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from attio_sandbox import SandboxState, WebhookConfig
from attio_sandbox import __main__ as command
from attio_sandbox.config import DEFAULT_ACTOR_ID, DEFAULT_WORKSPACE_MEMBER_ID
from testkit.signing import attio_signature
from tests.attio_sandbox.receiver import RECEIVER_URL, Receiver
from tests.attio_sandbox.support import error, write_body

PEOPLE = "/v2/objects/people/records"
MISSING_ID = "7a1c9e5e-0000-4000-8000-000000000000"
RECORD_EVENTS = ("record.created", "record.updated", "record.deleted", "record.merged")
NOT_API_TOKEN = {"$and": [{"field": "actor.type", "operator": "not_equals", "value": "api-token"}]}
SECRET = "receiver-test-secret"


def every_record_event(event_filter: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return [{"event_type": t, "filter": event_filter} for t in RECORD_EVENTS]


def webhook_body(target_url: str = RECEIVER_URL, **changes: Any) -> dict[str, Any]:
    return {"data": {"target_url": target_url, "subscriptions": every_record_event(), **changes}}


@pytest.fixture
def receiver(sandbox: SandboxState) -> Receiver:
    receiver = Receiver()
    receiver.wire(sandbox)
    # Retries in hundredths of a second instead of Attio's days.
    sandbox.webhooks.config.retry_delays = (0.01, 0.01, 0.01)
    return receiver


async def create_person(client: httpx.AsyncClient, email: str = "ada@example.com") -> str:
    response = await client.post(PEOPLE, json=write_body(email_addresses=[email]))
    assert response.status_code == 200, response.text
    record_id: str = response.json()["data"]["id"]["record_id"]
    return record_id


# Management ------------------------------------------------------------------------------


async def test_create_list_get_update_delete(client: httpx.AsyncClient) -> None:
    created = await client.post("/v2/webhooks", json=webhook_body())
    assert created.status_code == 200, created.text
    data = created.json()["data"]
    assert re.fullmatch(r"[0-9a-f]{64}", data["secret"])
    assert data["status"] == "active" and data["target_url"] == RECEIVER_URL
    assert data["subscriptions"] == every_record_event()
    webhook_id = data["id"]["webhook_id"]
    shown = {key: value for key, value in data.items() if key != "secret"}

    # The secret is shown once, at creation.
    assert (await client.get("/v2/webhooks")).json()["data"] == [shown]
    assert (await client.get(f"/v2/webhooks/{webhook_id}")).json()["data"] == shown

    url = f"/v2/webhooks/{webhook_id}"
    new_subscriptions = [{"event_type": "record.updated", "filter": NOT_API_TOKEN}]
    patched = await client.patch(url, json={"data": {"subscriptions": new_subscriptions}})
    assert patched.json()["data"]["subscriptions"] == new_subscriptions
    moved = await client.patch(url, json={"data": {"target_url": "https://elsewhere.test/x"}})
    assert moved.json()["data"]["target_url"] == "https://elsewhere.test/x"
    assert moved.json()["data"]["subscriptions"] == new_subscriptions

    assert (await client.delete(url)).json() == {}
    error(await client.get(url), 404, "not_found")
    error(await client.patch(url, json={"data": {}}), 404, "not_found")
    error(await client.delete(url), 404, "not_found")
    assert (await client.get("/v2/webhooks")).json()["data"] == []


async def test_list_pages(client: httpx.AsyncClient) -> None:
    for n in range(12):
        await client.post("/v2/webhooks", json=webhook_body(f"https://r{n}.test/hook"))
    assert len((await client.get("/v2/webhooks")).json()["data"]) == 10  # Attio's default
    page = (await client.get("/v2/webhooks", params={"limit": 10, "offset": 10})).json()["data"]
    assert [w["target_url"] for w in page] == ["https://r10.test/hook", "https://r11.test/hook"]
    for limit in (5, 101, -1):
        error(await client.get("/v2/webhooks", params={"limit": limit}), 400, "validation_type")


async def test_each_url_event_type_and_filter_combination_is_unique(
    client: httpx.AsyncClient,
) -> None:
    first = (await client.post("/v2/webhooks", json=webhook_body())).json()["data"]
    error(await client.post("/v2/webhooks", json=webhook_body()), 409, "uniqueness_conflict")
    same_event_other_filter = [{"event_type": "record.created", "filter": NOT_API_TOKEN}]
    other = await client.post(
        "/v2/webhooks", json=webhook_body(subscriptions=same_event_other_filter)
    )
    assert other.status_code == 200
    twice = [{"event_type": "record.created", "filter": None}] * 2
    body = webhook_body("https://new.test/hook", subscriptions=twice)
    error(await client.post("/v2/webhooks", json=body), 409, "uniqueness_conflict")

    # A webhook may keep its own subscriptions; a new URL is checked against the others.
    own = f"/v2/webhooks/{first['id']['webhook_id']}"
    again = {"data": {"subscriptions": first["subscriptions"]}}
    assert (await client.patch(own, json=again)).status_code == 200
    other_url = f"/v2/webhooks/{other.json()['data']['id']['webhook_id']}"
    moved = await client.patch(other_url, json={"data": {"target_url": "https://new.test/hook"}})
    assert moved.status_code == 200
    back = {"data": {"subscriptions": first["subscriptions"], "target_url": RECEIVER_URL}}
    error(await client.patch(other_url, json=back), 409, "uniqueness_conflict")


@pytest.mark.parametrize(
    "event_filter",
    [
        {"$not": []},
        {"$and": [], "$or": []},
        {"$and": {"field": "actor.type", "operator": "equals", "value": "api-token"}},
        {"$and": [{"field": "actor.type", "operator": "contains", "value": "api"}]},
        {"$and": [{"field": "actor.type", "operator": "equals", "value": 1}]},
        {"$or": [{"field": "actor..type", "operator": "equals", "value": "x"}]},
        {"$or": [{"field": "actor.type", "operator": "equals"}]},
        {"$or": [{"$and": [{"field": "actor.type", "operator": "equals", "value": "x"}]}]},
        [],
        "actor.type",
    ],
)
async def test_invalid_filters_are_rejected(client: httpx.AsyncClient, event_filter: Any) -> None:
    subscriptions = [{"event_type": "record.created", "filter": event_filter}]
    response = await client.post("/v2/webhooks", json=webhook_body(subscriptions=subscriptions))
    error(response, 400, "validation_type")


@pytest.mark.parametrize(
    "data",
    [
        {"target_url": "http://receiver.test/attio", "subscriptions": every_record_event()},
        {"target_url": "not a url", "subscriptions": every_record_event()},
        {"target_url": RECEIVER_URL, "subscriptions": []},
        {"target_url": RECEIVER_URL, "subscriptions": [{"event_type": "record.created"}]},
        {"target_url": RECEIVER_URL, "subscriptions": [{"event_type": "x", "filter": None}]},
        {"target_url": RECEIVER_URL},
        {"subscriptions": every_record_event()},
        {**webhook_body()["data"], "secret": "mine"},
    ],
)
async def test_invalid_webhooks_are_rejected(client: httpx.AsyncClient, data: Any) -> None:
    error(await client.post("/v2/webhooks", json={"data": data}), 400, "validation_type")


async def test_plain_http_is_accepted_for_loopback_only(client: httpx.AsyncClient) -> None:
    body = webhook_body("http://127.0.0.1:8000/webhooks/attio")
    assert (await client.post("/v2/webhooks", json=body)).status_code == 200


# Deliveries --------------------------------------------------------------------------------


async def test_created_updated_deleted_are_delivered_signed(
    client: httpx.AsyncClient, sandbox: SandboxState, receiver: Receiver
) -> None:
    created = (await client.post("/v2/webhooks", json=webhook_body())).json()["data"]
    secret, webhook_id = created["secret"], created["id"]["webhook_id"]
    record_id = await create_person(client)
    await client.patch(f"{PEOPLE}/{record_id}", json=write_body(job_title="CTO"))
    await client.delete(f"{PEOPLE}/{record_id}")
    await sandbox.webhooks.drain()

    people = sandbox.store.get_object("people")
    ids = {
        "workspace_id": sandbox.config.workspace_id,
        "object_id": people.id,
        "record_id": record_id,
    }
    actor = {"type": "api-token", "id": DEFAULT_ACTOR_ID}
    job_title = people.attributes_by_slug["job_title"].id
    assert [json.loads(item.body) for item in receiver.received] == [
        {"webhook_id": webhook_id, "events": [event]}
        for event in (
            {"event_type": "record.created", "id": ids, "actor": actor},
            {
                "event_type": "record.updated",
                "id": ids | {"attribute_id": job_title},
                "actor": actor,
            },
            {"event_type": "record.deleted", "id": ids, "actor": actor},
        )
    ]
    keys = set()
    for item in receiver.received:
        headers = item.headers
        assert headers["content-type"] == "application/json"
        assert headers["attio-signature"] == attio_signature(item.body, secret)
        assert headers["x-attio-signature"] == headers["attio-signature"]
        keys.add(headers["idempotency-key"])
    assert len(keys) == 3
    assert [d.state for d in sandbox.webhooks.deliveries] == ["delivered"] * 3
    assert {d.idempotency_key for d in sandbox.webhooks.deliveries} == keys


async def test_deliveries_wait_until_after_the_write(
    client: httpx.AsyncClient, sandbox: SandboxState
) -> None:
    gate = asyncio.Event()
    receiver = Receiver(gate=gate)
    receiver.wire(sandbox)
    sandbox.webhooks.create(RECEIVER_URL, every_record_event())
    # The write is answered although its delivery cannot finish yet.
    await asyncio.wait_for(create_person(client), timeout=2)
    assert [d.state for d in sandbox.webhooks.deliveries] in ([], ["pending"])
    gate.set()
    await sandbox.webhooks.drain()
    assert [d.state for d in sandbox.webhooks.deliveries] == ["delivered"]


async def test_retries_resend_the_same_bytes_and_idempotency_key(
    client: httpx.AsyncClient, sandbox: SandboxState
) -> None:
    receiver = Receiver(500, 503, 404)
    receiver.wire(sandbox)
    sandbox.webhooks.config.retry_delays = (0.01, 0.02, 0.01)
    sandbox.webhooks.create(RECEIVER_URL, every_record_event(), secret=SECRET)
    await create_person(client)
    await sandbox.webhooks.drain()

    first, *retries = receiver.received
    assert len(retries) == 3
    for retry in retries:
        assert retry.body == first.body
        for header in ("idempotency-key", "attio-signature", "x-attio-signature"):
            assert retry.headers[header] == first.headers[header]
    (delivery,) = sandbox.webhooks.deliveries
    assert [attempt.status for attempt in delivery.attempts] == [500, 503, 404, 200]
    assert (
        delivery.state == "delivered"
        and delivery.idempotency_key == first.headers["idempotency-key"]
    )


async def test_out_of_retries_degrades_the_webhook_until_a_delivery_succeeds(
    client: httpx.AsyncClient, sandbox: SandboxState
) -> None:
    receiver = Receiver(500, 500, 500)
    receiver.wire(sandbox)
    sandbox.webhooks.config.retry_delays = (0.01, 0.01)
    webhook = sandbox.webhooks.create(RECEIVER_URL, every_record_event())
    await create_person(client, "a@example.com")
    await sandbox.webhooks.drain()
    (failed,) = sandbox.webhooks.deliveries
    assert failed.state == "failed" and len(failed.attempts) == 3
    api_view = await client.get(f"/v2/webhooks/{webhook.id}")
    assert api_view.json()["data"]["status"] == "degraded"

    # Degraded webhooks still receive events; the next success makes it active again.
    await create_person(client, "b@example.com")
    await sandbox.webhooks.drain()
    assert sandbox.webhooks.deliveries[-1].state == "delivered"
    assert webhook.status == "active"


async def test_unreachable_raising_or_slow_receivers_are_retried(
    client: httpx.AsyncClient, sandbox: SandboxState
) -> None:
    calls = 0

    def flaky(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(202)

    sandbox.webhooks.transport = httpx.MockTransport(flaky)
    sandbox.webhooks.config.retry_delays = (0.01,)
    sandbox.webhooks.create(RECEIVER_URL, every_record_event())
    await create_person(client, "a@example.com")
    await sandbox.webhooks.drain()
    (delivery,) = sandbox.webhooks.deliveries
    assert [a.status for a in delivery.attempts] == [None, 202]
    assert delivery.attempts[0].error == "ConnectError: connection refused"

    slow = Receiver(delays=(1.0,))
    slow.wire(sandbox)
    sandbox.webhooks.config.timeout_seconds = 0.05
    await create_person(client, "b@example.com")
    await sandbox.webhooks.drain()
    assert [a.status for a in sandbox.webhooks.deliveries[-1].attempts] == [None, 200]
    assert sandbox.webhooks.deliveries[-1].attempts[0].error == "no answer within 0.05 s"


async def test_a_receiver_checking_signatures_rejects_the_wrong_secret(
    client: httpx.AsyncClient, sandbox: SandboxState
) -> None:
    receiver = Receiver(secret=SECRET)
    receiver.wire(sandbox)
    sandbox.webhooks.config.retry_delays = ()
    sandbox.webhooks.create(RECEIVER_URL, every_record_event(), secret=SECRET)
    sandbox.webhooks.create("https://receiver.test/attio?other", every_record_event())
    await create_person(client)
    await sandbox.webhooks.drain()
    right, wrong = sandbox.webhooks.deliveries
    assert (right.status, right.state) == (200, "delivered")
    assert (wrong.status, wrong.state) == (401, "failed")
    # One event, one delivery per webhook, each with its own key.
    assert right.events == wrong.events and right.idempotency_key != wrong.idempotency_key


async def test_the_actor_filter_keeps_api_writes_out(
    client: httpx.AsyncClient, sandbox: SandboxState, receiver: Receiver
) -> None:
    sandbox.webhooks.create(RECEIVER_URL, every_record_event(NOT_API_TOKEN))
    record_id = await create_person(client)
    await client.patch(f"{PEOPLE}/{record_id}", json=write_body(job_title="CTO"))
    member = sandbox.workspace_member()
    sandbox.store.update_record(
        "people", record_id, {"job_title": "CEO"}, append=True, actor=member
    )
    # A person's edit in the web app, made through the sandbox's development route.
    await client.patch(f"/_sandbox/objects/people/records/{record_id}", json=write_body(name="X"))
    await sandbox.webhooks.drain()

    events = receiver.events()
    assert [e["event_type"] for e in events] == ["record.updated", "record.updated"]
    assert all(
        e["actor"] == {"type": "workspace-member", "id": DEFAULT_WORKSPACE_MEMBER_ID}
        for e in events
    )


async def test_filters_on_ids_with_and_or(
    client: httpx.AsyncClient, sandbox: SandboxState, receiver: Receiver
) -> None:
    store = sandbox.store
    people, companies = store.get_object("people").id, store.get_object("companies").id
    job_title = store.get_object("people").attributes_by_slug["job_title"].id
    only_job_titles = {
        "$and": [
            {"field": "id.object_id", "operator": "equals", "value": people},
            {"field": "id.attribute_id", "operator": "equals", "value": job_title},
        ]
    }
    companies_or_deletions = {
        "$or": [
            {"field": "id.object_id", "operator": "equals", "value": companies},
            {"field": "event_type", "operator": "equals", "value": "record.deleted"},
        ]
    }
    sandbox.webhooks.create(
        RECEIVER_URL,
        [
            {"event_type": "record.updated", "filter": only_job_titles},
            # Both of these take a deleted company: it is still sent once.
            {"event_type": "record.created", "filter": companies_or_deletions},
            {"event_type": "record.deleted", "filter": companies_or_deletions},
            {"event_type": "record.deleted", "filter": None},
        ],
    )
    person = store.create_record("people", {"name": "Ada Lovelace", "job_title": "Countess"})
    store.update_record("people", person.id, {"name": "Ada King"}, append=True)
    store.update_record("people", person.id, {"job_title": "Analyst"}, append=True)
    company = store.create_record("companies", {"name": "Acme"})
    store.delete_record("companies", company.id)
    await sandbox.webhooks.drain()

    assert [(e["event_type"], e["id"]["record_id"]) for e in receiver.events()] == [
        ("record.updated", person.id),
        ("record.created", company.id),
        ("record.deleted", company.id),
    ]


async def test_one_event_per_delivery_unless_batching_is_on(
    client: httpx.AsyncClient, sandbox: SandboxState, receiver: Receiver
) -> None:
    sandbox.webhooks.create(RECEIVER_URL, every_record_event())
    record_id = await create_person(client)
    await sandbox.webhooks.drain()
    body = write_body(job_title="CTO", name="Lovelace, Ada")
    await client.patch(f"{PEOPLE}/{record_id}", json=body)
    await sandbox.webhooks.drain()
    assert [len(d.events) for d in sandbox.webhooks.deliveries] == [1, 1, 1]

    sandbox.webhooks.config.batch_size = 5
    await client.patch(f"{PEOPLE}/{record_id}", json=write_body(job_title="CEO", name="Ada"))
    await sandbox.webhooks.drain()
    batched = sandbox.webhooks.deliveries[-1]
    assert [e["event_type"] for e in batched.events] == ["record.updated", "record.updated"]
    assert receiver.received[-1].headers["attio-signature"] == attio_signature(
        batched.body, sandbox.webhooks.all()[0].secret
    )


async def test_merges_in_both_shapes(
    client: httpx.AsyncClient, sandbox: SandboxState, receiver: Receiver
) -> None:
    sandbox.webhooks.create(RECEIVER_URL, [{"event_type": "record.merged", "filter": None}])
    store = sandbox.store
    people = store.get_object("people").id
    member = sandbox.workspace_member()
    first = await create_person(client, "a@example.com")
    second = await create_person(client, "b@example.com")
    new = store.merge_records("people", first, second, actor=member)
    await sandbox.webhooks.drain()
    ids = {"workspace_id": sandbox.config.workspace_id, "object_id": people, "record_id": new.id}
    actor = {"type": "workspace-member", "id": DEFAULT_WORKSPACE_MEMBER_ID}
    assert [json.loads(item.body)["events"] for item in receiver.received] == [
        [
            {
                "event_type": "record.merged",
                "id": ids,
                "duplicate_object_id": people,
                "duplicate_record_id": original,
                "actor": actor,
            }
        ]
        for original in (first, second)
    ]

    older = await create_person(client, "c@example.com")
    store.merge_records("people", new.id, older, mode="into-original")
    await sandbox.webhooks.drain()
    (event,) = json.loads(receiver.received[-1].body)["events"]
    assert (event["id"]["record_id"], event["duplicate_record_id"]) == (new.id, older)
    assert event["actor"]["type"] == "api-token"
    assert len(receiver.received) == 3


async def test_deleted_and_inactive_webhooks_get_nothing(
    client: httpx.AsyncClient, sandbox: SandboxState
) -> None:
    gate = asyncio.Event()
    receiver = Receiver(gate=gate)
    receiver.wire(sandbox)
    kept = sandbox.webhooks.create(RECEIVER_URL, every_record_event())
    await create_person(client, "a@example.com")
    await create_person(client, "b@example.com")
    await asyncio.wait_for(receiver.arrived.wait(), 2)  # the first one is held at the gate
    sandbox.webhooks.delete(kept.id)
    gate.set()
    await sandbox.webhooks.drain()
    assert [d.state for d in sandbox.webhooks.deliveries] == ["delivered", "dropped"]

    inactive = sandbox.webhooks.create(RECEIVER_URL, every_record_event())
    inactive.status = "inactive"
    await create_person(client, "c@example.com")
    await sandbox.webhooks.drain()
    assert len(sandbox.webhooks.deliveries) == 2


async def test_delivery_log_and_webhooks_over_the_development_routes(
    client: httpx.AsyncClient, sandbox: SandboxState, receiver: Receiver
) -> None:
    webhook = sandbox.webhooks.create(RECEIVER_URL, every_record_event(), secret=SECRET)
    member_route = "/_sandbox/objects/people/records"
    created = await client.post(member_route, json=write_body(email_addresses=["a@example.com"]))
    record_id = created.json()["data"]["id"]["record_id"]
    duplicate = await create_person(client, "b@example.com")
    merged = await client.post(
        f"{member_route}/{record_id}/merge", json={"data": {"duplicate_record_id": duplicate}}
    )
    new_id = merged.json()["data"]["id"]["record_id"]
    await client.delete(f"{member_route}/{new_id}", params={"member_id": MISSING_ID})
    await sandbox.webhooks.drain()

    summary = (await client.get("/_sandbox/webhooks/deliveries", params={"recent": 2})).json()
    assert summary["total"] == 5 and summary["by_state"] == {"delivered": 5}
    last = summary["recent"][-1]
    assert last["events"][0]["event_type"] == "record.deleted"
    assert last["events"][0]["actor"] == {"type": "workspace-member", "id": MISSING_ID}
    assert last["attempts"][0]["status"] == 200 and last["status"] == 200
    assert last["idempotency_key"] == sandbox.webhooks.deliveries[-1].idempotency_key
    listed = (await client.get("/_sandbox/webhooks")).json()["data"]
    assert [(w["id"]["webhook_id"], w["secret"]) for w in listed] == [(webhook.id, SECRET)]

    bad_merge = {"data": {"duplicate_record_id": duplicate, "mode": "sideways"}}
    error(await client.post(f"{member_route}/{MISSING_ID}/merge", json=bad_merge), 404, "not_found")


async def test_reset_forgets_webhooks_and_deliveries_but_keeps_the_transport(
    client: httpx.AsyncClient, sandbox: SandboxState, receiver: Receiver
) -> None:
    sandbox.webhooks.create(RECEIVER_URL, every_record_event())
    sandbox.webhooks.config.batch_size = 3
    await create_person(client)
    await sandbox.webhooks.drain()
    transport = sandbox.webhooks.transport
    assert (await client.post("/_sandbox/reset")).status_code == 200
    assert sandbox.webhooks.all() == [] and sandbox.webhooks.deliveries == []
    assert sandbox.webhooks.config.batch_size == 1
    assert sandbox.webhooks.transport is transport


def test_a_configured_secret_signs_every_webhook() -> None:
    state = SandboxState()
    state.webhooks.config = WebhookConfig(secret=SECRET)
    webhook = state.webhooks.create(RECEIVER_URL, every_record_event())
    assert webhook.secret == SECRET
    with pytest.raises(ValueError, match="must not be negative"):
        state.webhooks.config.retry_delays = (1.0, -1.0)


# Waiting from synchronous tests, and sending over the network ------------------------------


def test_a_testclient_loop_hosts_deliveries_for_a_synchronous_test(sandbox: SandboxState) -> None:
    receiver = Receiver()
    receiver.wire(sandbox)
    sandbox.webhooks.create(RECEIVER_URL, every_record_event(NOT_API_TOKEN))
    member = sandbox.workspace_member()
    sandbox.store.create_record("people", {"job_title": "x"}, actor=member)
    # No loop is sending yet: waiting would never end, so it says what to do instead.
    with pytest.raises(RuntimeError, match="portal"):
        sandbox.webhooks.wait_idle()

    with TestClient(receiver.app) as app_client:
        assert app_client.portal is not None
        app_client.portal.call(sandbox.webhooks.start)
        sandbox.store.create_record("people", {"job_title": "y"}, actor=member)
        sandbox.webhooks.wait_idle()
        portal_thread = app_client.portal.call(threading.get_ident)

    assert [d.state for d in sandbox.webhooks.deliveries] == ["delivered", "delivered"]
    assert {item.thread for item in receiver.received} == {portal_thread}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def loopback_receiver() -> Iterator[tuple[Receiver, str]]:
    """The receiver served by uvicorn on a loopback port, in a thread."""
    receiver = Receiver()
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(receiver.app, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(500):
            if server.started:
                break
            threading.Event().wait(0.01)
        yield receiver, f"http://127.0.0.1:{port}/attio"
    finally:
        server.should_exit = True
        thread.join(timeout=5)


async def test_without_a_transport_deliveries_go_over_the_network(
    client: httpx.AsyncClient, sandbox: SandboxState, loopback_receiver: tuple[Receiver, str]
) -> None:
    receiver, url = loopback_receiver
    webhook = sandbox.webhooks.create(url, every_record_event())
    await create_person(client)
    await sandbox.webhooks.drain()
    (item,) = receiver.received
    assert item.headers["attio-signature"] == attio_signature(item.body, webhook.secret)
    assert item.headers["user-agent"].startswith("Attio")
    await sandbox.webhooks.aclose()


def test_command_line_webhook_options(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(command, "serve", lambda *args: calls.append(args))
    command.main(
        [
            "--webhook-secret",
            SECRET,
            "--webhook-retry-delays",
            "0.5",
            "2",
            "--webhook-batch-size",
            "3",
        ]
    )
    webhooks = calls[-1][2].webhooks
    assert (webhooks.secret, webhooks.retry_delays, webhooks.batch_size) == (SECRET, (0.5, 2), 3)
    command.main([])
    assert len(calls[-1][2].webhooks.retry_delays) == 10  # Attio's ten retries
