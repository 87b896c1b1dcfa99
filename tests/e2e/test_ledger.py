"""The processing contract end to end: webhooks in, the ledger in the Attio sandbox, replays."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from app.clients.attio.errors import AttioServerError
from app.errors import MalformedPayloadError
from app.events.model import Source, WebhookEvent
from app.events.sources import attio_event_key
from testkit.signing import attio_signed_headers
from tests.e2e.conftest import ADMIN_TOKEN, Harness

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
OWN_ACTOR = "8e2d4c1a-3b5f-4e6d-8a7b-9c0d1e2f3a4b"


def attio_delivery(
    *event_types: str, actor_type: str = "workspace-member", webhook_id: str = "wh-1"
) -> bytes:
    events = [
        {
            "event_type": event_type,
            "id": {"workspace_id": "w", "object_id": "people", "record_id": f"r{i}"},
            "actor": {"type": actor_type, "id": OWN_ACTOR},
        }
        for i, event_type in enumerate(event_types)
    ]
    return json.dumps({"webhook_id": webhook_id, "events": events}).encode()


# Keys come from the signed body: the same delivery has the same key whatever its headers say.
UPDATED = attio_event_key(attio_delivery("record.updated"), 0)


def post_attio(h: Harness, body: bytes, key: str = "delivery-1"):
    headers = {**attio_signed_headers(body), "Idempotency-Key": key}
    return h.client.post("/webhooks/attio", content=body, headers=headers)


class FlakyHandler:
    """Fails the first `failures` calls with `error`, then succeeds."""

    def __init__(self, failures: int, error: Exception | None = None) -> None:
        self.failures = failures
        self.error = error or AttioServerError("Attio is down", attio_status=503)
        self.calls: list[WebhookEvent] = []

    async def __call__(self, event: WebhookEvent) -> None:
        self.calls.append(event)
        if len(self.calls) <= self.failures:
            raise self.error


def ledger(h: Harness) -> dict[str, dict]:
    return {r["values"]["event_key"]: r["values"] for r in h.records("bridge_events")}


def test_success_writes_nothing_to_the_ledger(harness: Harness) -> None:
    handler = FlakyHandler(failures=0)
    harness.bridge.dispatcher.register(Source.attio, "record.updated", handler)
    response = post_attio(harness, attio_delivery("record.updated"))
    assert response.status_code == 200
    assert response.json() == {"events": 1, "processed": 1, "ignored": 0, "recorded": 0}
    assert len(handler.calls) == 1
    assert harness.writes_to("bridge_events") == 0


def test_failing_handler_leaves_a_failed_record_and_answers_200(harness: Harness) -> None:
    harness.bridge.dispatcher.register(Source.attio, "record.updated", FlakyHandler(failures=9))
    body = attio_delivery("record.updated")
    before = datetime.now(UTC)
    response = post_attio(harness, body)
    assert response.status_code == 200
    assert response.json()["recorded"] == 1
    record = ledger(harness)[UPDATED]
    assert record["status"] == "failed"
    assert record["source"] == "attio"
    assert record["event_type"] == "record.updated"
    assert record["attempts"] == 1
    assert "AttioServerError" in record["error"]
    assert record["raw_body"] == body.decode()
    assert json.loads(record["raw_headers"])["idempotency-key"] == "delivery-1"
    next_at = datetime.fromisoformat(record["next_attempt_at"].replace("Z", "+00:00"))
    assert before + timedelta(seconds=59) <= next_at <= datetime.now(UTC) + timedelta(seconds=61)


def test_ledger_write_failing_too_answers_503(harness: Harness) -> None:
    harness.bridge.dispatcher.register(Source.attio, "record.updated", FlakyHandler(failures=9))
    harness.sandbox.configure_faults(server_error_rate=1.0, fault_path_regex="bridge_events")
    response = post_attio(harness, attio_delivery("record.updated"))
    assert response.status_code == 503
    assert response.json()["error"] == "ledger_unavailable"
    harness.sandbox.configure_faults(server_error_rate=0.0)
    assert ledger(harness) == {}  # nothing recorded, so the sender must redeliver


def test_permanent_error_goes_straight_to_dead(harness: Harness) -> None:
    handler = FlakyHandler(failures=9, error=MalformedPayloadError("no customer in it"))
    harness.bridge.dispatcher.register(Source.attio, "record.updated", handler)
    assert post_attio(harness, attio_delivery("record.updated")).status_code == 200
    record = ledger(harness)[UPDATED]
    assert record["status"] == "dead"
    assert record["next_attempt_at"] is None


def test_unknown_event_type_is_ignored_without_attio_writes(harness: Harness) -> None:
    response = post_attio(harness, attio_delivery("note.created"))
    assert response.json() == {"events": 1, "processed": 0, "ignored": 1, "recorded": 0}
    assert harness.sandbox.requests.count(kind="write") == 0


def test_own_writes_are_dropped_before_any_call(harness: Harness) -> None:
    harness.app.state.bridge.sources[Source.attio]._own_actor_ids = frozenset({OWN_ACTOR})
    handler = FlakyHandler(failures=0)
    harness.bridge.dispatcher.register(Source.attio, "record.updated", handler)
    harness.sandbox.requests.clear()
    response = post_attio(harness, attio_delivery("record.updated", actor_type="api-token"))
    assert response.json()["ignored"] == 1
    assert handler.calls == []
    assert harness.sandbox.requests.entries == []


def test_batched_delivery_one_failing_event(harness: Harness) -> None:
    harness.bridge.dispatcher.register(Source.attio, "record.updated", FlakyHandler(failures=0))
    harness.bridge.dispatcher.register(Source.attio, "record.deleted", FlakyHandler(failures=9))
    response = post_attio(harness, attio_delivery("record.updated", "record.deleted"))
    assert response.status_code == 200
    assert response.json() == {"events": 2, "processed": 1, "ignored": 0, "recorded": 1}
    body = attio_delivery("record.updated", "record.deleted")
    assert set(ledger(harness)) == {attio_event_key(body, 1)}


def test_retry_due_brings_a_failed_event_to_success(harness: Harness) -> None:
    handler = FlakyHandler(failures=1)
    harness.bridge.dispatcher.register(Source.attio, "record.updated", handler)
    post_attio(harness, attio_delivery("record.updated"))
    replayer = harness.bridge.replayer

    import asyncio

    report = asyncio.run(replayer.retry_due())  # not due yet
    assert report.results == []
    harness.bridge.ledger.clock = lambda: datetime.now(UTC) + timedelta(minutes=2)
    report = asyncio.run(replayer.retry_due())
    assert [r.status.value for r in report.results] == ["replayed"]
    record = ledger(harness)[UPDATED]
    assert record["status"] == "replayed"
    assert record["attempts"] == 2
    assert record["next_attempt_at"] is None
    assert len(handler.calls) == 2


def test_retries_exhausted_make_an_event_dead(harness: Harness) -> None:
    from app.events.ledger import RetrySchedule

    harness.bridge.ledger.schedule = RetrySchedule((60,))
    harness.bridge.dispatcher.register(Source.attio, "record.updated", FlakyHandler(failures=9))
    post_attio(harness, attio_delivery("record.updated"))
    harness.bridge.ledger.clock = lambda: datetime.now(UTC) + timedelta(minutes=2)
    import asyncio

    report = asyncio.run(harness.bridge.replayer.retry_due())
    assert [r.status.value for r in report.results] == ["dead"]
    assert ledger(harness)[UPDATED]["status"] == "dead"
    assert asyncio.run(harness.bridge.replayer.retry_due()).results == []


def test_admin_replay_marks_replayed(harness: Harness) -> None:
    handler = FlakyHandler(failures=1)
    harness.bridge.dispatcher.register(Source.attio, "record.updated", handler)
    post_attio(harness, attio_delivery("record.updated"))

    listed = harness.client.get("/admin/events", params={"status": "failed"}, headers=ADMIN)
    assert [e["event_key"] for e in listed.json()["events"]] == [UPDATED]
    detail = harness.client.get(f"/admin/events/{UPDATED}", headers=ADMIN).json()
    assert detail["raw_request"]["headers"]["idempotency-key"] == "delivery-1"

    dry = harness.client.post(f"/admin/events/{UPDATED}/replay?dry_run=true", headers=ADMIN)
    assert dry.json()["status"] == "would_replay"
    assert len(handler.calls) == 1

    replayed = harness.client.post(f"/admin/events/{UPDATED}/replay", headers=ADMIN)
    assert replayed.status_code == 200
    assert replayed.json()["status"] == "replayed"
    assert ledger(harness)[UPDATED]["status"] == "replayed"


def test_admin_bulk_replay_with_filter_and_dry_run(harness: Harness) -> None:
    harness.bridge.dispatcher.register(Source.attio, "record.updated", FlakyHandler(failures=2))
    post_attio(harness, attio_delivery("record.updated"), key="d1")
    post_attio(harness, attio_delivery("record.updated", webhook_id="wh-2"), key="d2")
    body = {"status": "failed", "source": "attio", "dry_run": True}
    dry = harness.client.post("/admin/events/replay", json=body, headers=ADMIN).json()
    assert dry["counts"]["would_replay"] == 2
    done = harness.client.post(
        "/admin/events/replay", json={**body, "dry_run": False}, headers=ADMIN
    ).json()
    assert done["counts"]["replayed"] == 2
    assert {r["status"] for r in ledger(harness).values()} == {"replayed"}


@pytest.mark.parametrize(
    "body",
    [{"limit": True}, {"limit": 5.5}, {"limit": "5"}, {"dry_run": "false"}, {"dry_run": 0}],
)
def test_bulk_replay_refuses_a_filter_of_the_wrong_json_type(harness: Harness, body: dict) -> None:
    # `"limit": true` read as 1, or `"dry_run": 0` read as False, would replay what was not asked.
    harness.bridge.dispatcher.register(Source.attio, "record.updated", FlakyHandler(failures=2))
    post_attio(harness, attio_delivery("record.updated"), key="d1")
    response = harness.client.post("/admin/events/replay", json=body, headers=ADMIN)
    assert response.status_code == 422, response.text
    assert {r["status"] for r in ledger(harness).values()} == {"failed"}


def test_replaying_an_edited_ledger_record_is_refused(harness: Harness) -> None:
    handler = FlakyHandler(failures=1)
    harness.bridge.dispatcher.register(Source.attio, "record.updated", handler)
    post_attio(harness, attio_delivery("record.updated"))
    import asyncio

    async def tamper() -> None:
        async with harness.attio_client() as attio:
            (row,) = await attio.query_records("bridge_events", filter={"event_key": UPDATED})
            body = json.loads(row["values"]["raw_body"][0]["value"])
            body["events"][0]["id"]["record_id"] = "someone-else"
            await attio.update_record(
                "bridge_events", row["id"]["record_id"], {"raw_body": json.dumps(body)}
            )

    asyncio.run(tamper())
    response = harness.client.post(f"/admin/events/{UPDATED}/replay", headers=ADMIN)
    assert response.json()["status"] == "refused"
    assert "does not verify" in response.json()["detail"]
    assert len(handler.calls) == 1  # the handler never saw the edited payload


def test_redelivery_of_a_failed_event_updates_its_record(harness: Harness) -> None:
    handler = FlakyHandler(failures=1)
    harness.bridge.dispatcher.register(Source.attio, "record.updated", handler)
    body = attio_delivery("record.updated")
    post_attio(harness, body)
    assert ledger(harness)[UPDATED]["status"] == "failed"
    assert post_attio(harness, body).json()["processed"] == 1
    assert ledger(harness)[UPDATED]["status"] == "replayed"


def test_redelivery_of_a_failing_event_counts_attempts(harness: Harness) -> None:
    harness.bridge.dispatcher.register(Source.attio, "record.updated", FlakyHandler(failures=9))
    body = attio_delivery("record.updated")
    post_attio(harness, body)
    post_attio(harness, body)
    assert ledger(harness)[UPDATED]["attempts"] == 2
    assert len(ledger(harness)) == 1


def test_new_idempotency_keys_do_not_make_new_records(harness: Harness) -> None:
    harness.bridge.dispatcher.register(Source.attio, "record.updated", FlakyHandler(failures=9))
    body = attio_delivery("record.updated")
    for key in ("d1", "d2", "d3", "d4", "d5"):
        post_attio(harness, body, key=key)
    assert list(ledger(harness)) == [UPDATED]
    assert ledger(harness)[UPDATED]["attempts"] == 5


def test_a_record_keyed_by_an_idempotency_key_replays_and_settles(harness: Harness) -> None:
    # Records written before keys came from the body carry Attio's header in their key.
    handler = FlakyHandler(failures=1)
    harness.bridge.dispatcher.register(Source.attio, "record.updated", handler)
    post_attio(harness, attio_delivery("record.updated"))
    import asyncio

    async def rekey() -> None:
        async with harness.attio_client() as attio:
            (row,) = await attio.query_records("bridge_events", filter={"event_key": UPDATED})
            values = {"event_key": "attio:delivery-1:0"}
            await attio.update_record("bridge_events", row["id"]["record_id"], values)

    asyncio.run(rekey())
    response = harness.client.post("/admin/events/attio:delivery-1:0/replay", headers=ADMIN)
    assert response.json()["status"] == "replayed", response.text
    assert ledger(harness)["attio:delivery-1:0"]["status"] == "replayed"
    assert list(ledger(harness)) == ["attio:delivery-1:0"]
