"""The event journal: one entry per record mutation, shaped like Attio's webhook events."""

from __future__ import annotations

import httpx

from attio_sandbox import JournalEvent, SandboxConfig, SandboxState, create_sandbox_app
from attio_sandbox.config import DEFAULT_ACTOR_ID
from tests.attio_sandbox.support import AUTH, BASE_URL, error, values, write_body

PEOPLE = "/v2/objects/people/records"


async def test_create_update_delete_events(
    client: httpx.AsyncClient, sandbox: SandboxState
) -> None:
    store = sandbox.store
    people = store.get_object("people")
    created = await client.post(PEOPLE, json=write_body(email_addresses=["a@example.com"]))
    record_id = created.json()["data"]["id"]["record_id"]
    url = f"{PEOPLE}/{record_id}"
    await client.patch(url, json=write_body(job_title="CTO", name="Lovelace, Ada"))
    await client.put(url, json=write_body(job_title="CTO"))  # unchanged: no event
    await client.delete(url)

    events = sandbox.journal.events
    assert [e.event_type for e in events] == [
        "record.created",
        "record.updated",
        "record.updated",
        "record.deleted",
    ]
    assert all(e.object_id == people.id and e.record_id == record_id for e in events)
    assert all(e.actor == {"type": "api-token", "id": DEFAULT_ACTOR_ID} for e in events)
    assert [e.seq for e in events] == [1, 2, 3, 4]
    updated_attributes = {events[1].attribute_id, events[2].attribute_id}
    assert updated_attributes == {
        people.attributes_by_slug["job_title"].id,
        people.attributes_by_slug["name"].id,
    }
    assert events[0].attribute_id is None and events[3].attribute_id is None


async def test_failed_writes_leave_no_events(
    client: httpx.AsyncClient, sandbox: SandboxState
) -> None:
    error(await client.post(PEOPLE, json=write_body(shoe_size=42)), 400, "value_not_found")
    assert sandbox.journal.events == []


def test_webhook_event_shape(sandbox: SandboxState) -> None:
    record = sandbox.store.create_record("people", {"job_title": "x"})
    sandbox.store.update_record("people", record.id, {"job_title": "y"}, append=True)
    created, updated = sandbox.journal.events
    assert created.webhook_event() == {
        "event_type": "record.created",
        "id": {
            "workspace_id": sandbox.config.workspace_id,
            "object_id": record.object_id,
            "record_id": record.id,
        },
        "actor": {"type": "api-token", "id": DEFAULT_ACTOR_ID},
    }
    assert updated.webhook_event()["id"]["attribute_id"] == updated.attribute_id


def test_listeners_and_since(sandbox: SandboxState) -> None:
    seen: list[JournalEvent] = []
    unsubscribe = sandbox.journal.subscribe(seen.append)
    first = sandbox.store.create_record("companies", {"name": "A"})
    unsubscribe()
    sandbox.store.create_record("companies", {"name": "B"})
    assert [e.record_id for e in seen] == [first.id]
    assert [e.seq for e in sandbox.journal.since(1)] == [2]

    # Listeners survive a reset; the journal itself starts again.
    sandbox.journal.subscribe(seen.append)
    sandbox.reset()
    assert sandbox.journal.events == []
    sandbox.store.create_record("companies", {"name": "C"})
    assert len(seen) == 2 and seen[-1].seq == 1


async def test_a_configured_token_actor_attributes_writes() -> None:
    actor_id = "0d9b6b5e-1111-4222-8333-944455556666"
    app = create_sandbox_app(SandboxConfig(token_actor_id=actor_id))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers=AUTH) as client:
        response = await client.post(PEOPLE, json=write_body(job_title="x"))
    (value,) = values(response.json()["data"], "job_title")
    assert value["created_by_actor"] == {"type": "api-token", "id": actor_id}
    assert app.state.sandbox.journal.events[0].actor["id"] == actor_id
