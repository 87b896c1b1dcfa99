"""Queue mode end to end, on a real Redis: webhooks in, the stream, a worker, the Attio sandbox.

The web app and the worker run in the test's event loop, each with its own bridge on the same
in-process Attio sandbox, as a web instance and a worker process share one workspace.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from structlog.testing import capture_logs

from app.bridge import Bridge, build_bridge
from app.cli.worker import worker_for
from app.clients.attio import AttioClient
from app.clients.attio.errors import AttioServerError
from app.clients.redis import Redis, RedisConnectionError
from app.clients.redis import connect as connect_redis
from app.config import Settings
from app.events.model import Source, WebhookEvent
from app.events.queue import GROUP, STREAM, EventQueue, QueueMode
from app.events.queue_worker import QueueWorker
from app.events.sources import attio_event_key
from app.main import create_app
from app.metrics import REGISTRY
from testkit.fake_zoho import ITEM, FakeZoho
from testkit.processes import free_port
from testkit.redis_server import RedisServer
from testkit.signing import attio_signed_headers, braintree_form_body, zoho_signed_headers
from tests.conftest import make_sandbox, sandbox_attio_client
from tests.e2e.conftest import ADMIN_TOKEN, bootstrap, bridge_settings
from tests.services.braintree.support import FORM, FakeBraintreeApi, signed_fixture
from tests.services.zoho.conftest import CRM_CHANNEL_ID, CRM_TOKEN
from tests.services.zoho.test_webhooks import PRODUCT

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
METRICS_TOKEN = "metrics-token-0123456789-abcdefghij"


class FlakyHandler:
    """Fails the first `failures` calls, then succeeds; remembers every call."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.calls: list[WebhookEvent] = []

    async def __call__(self, event: WebhookEvent) -> None:
        self.calls.append(event)
        if len(self.calls) <= self.failures:
            raise AttioServerError("Attio is down", attio_status=503)


@dataclass
class QueueStack:
    app: FastAPI
    client: httpx.AsyncClient
    sandbox_app: FastAPI
    settings: Settings
    redis: Redis  # the test's own connection, for inspection
    worker_bridge: Bridge
    worker_queue: EventQueue

    @property
    def bridge(self) -> Bridge:
        return self.app.state.bridge

    def worker(self, consumer: str = "worker-1") -> QueueWorker:
        return worker_for(self.worker_bridge, self.settings, self.worker_queue, consumer=consumer)

    def register(self, event_type: str, handler: FlakyHandler) -> None:
        """The same handler in the web service (which decides what needs work) and the worker."""
        for bridge in (self.bridge, self.worker_bridge):
            bridge.dispatcher.register(Source.attio, event_type, handler)

    async def drain(self, worker: QueueWorker) -> int:
        """Read and handle everything unread, one entry at a time; how many were acknowledged."""
        done = 0
        while entries := await self.worker_queue.read(worker.consumer, count=10):
            for entry in entries:
                done += await worker.handle(entry)
        return done

    async def records(self, obj: str) -> list[dict[str, Any]]:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.sandbox_app), base_url="http://sandbox"
        ) as sandbox:
            response = await sandbox.get(f"/_sandbox/objects/{obj}/records")
        return response.json()["data"]

    async def ledger(self) -> dict[str, dict[str, Any]]:
        return {r["values"]["event_key"]: r["values"] for r in await self.records("bridge_events")}

    def writes(self) -> int:
        return self.sandbox_app.state.sandbox.requests.count(kind="write")

    async def pending(self) -> int:
        summary = await self.redis.xpending(STREAM, GROUP)
        return int(summary["pending"])

    async def failed_once(self) -> tuple[FlakyHandler, QueueWorker]:
        """One record update whose first attempt (in the worker) fails into the ledger."""
        handler = FlakyHandler(failures=1)
        self.register("record.updated", handler)
        assert (await post_attio(self, attio_body("record.updated"))).status_code == 200
        worker = self.worker()
        assert await self.drain(worker) == 1
        return handler, worker

    async def make_due(self) -> None:
        """The ledger's clock moved to when the failed update is due again."""
        ledger = self.bridge.ledger
        entry = await ledger.get(UPDATED)
        assert entry is not None and entry.next_attempt_at is not None
        ledger.clock = lambda: entry.next_attempt_at  # type: ignore[assignment,return-value]


@asynccontextmanager
async def queue_stack(redis_url: str, **env: str) -> AsyncIterator[QueueStack]:
    settings = bridge_settings(REDIS_URL=redis_url, METRICS_TOKEN=METRICS_TOKEN, **env)
    sandbox_app = make_sandbox()
    await bootstrap(sandbox_app, settings)
    sandbox_app.state.sandbox.requests.clear()
    app = create_app(settings, attio_transport=httpx.ASGITransport(app=sandbox_app))
    worker_attio: AttioClient = sandbox_attio_client(sandbox_app)
    worker_bridge = build_bridge(settings, worker_attio)
    worker_queue = EventQueue(connect_redis(redis_url, socket_timeout=5))
    await worker_queue.ensure_group()
    redis = connect_redis(redis_url)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bridge")
    try:
        yield QueueStack(app, client, sandbox_app, settings, redis, worker_bridge, worker_queue)
    finally:
        await client.aclose()
        await app.state.bridge.aclose()
        await app.state.attio.aclose()
        await worker_bridge.aclose()
        await worker_attio.aclose()
        await worker_queue.aclose()
        await redis.aclose()


def attio_body(*event_types: str, record: str = "r0") -> bytes:
    events = [
        {
            "event_type": event_type,
            "id": {"workspace_id": "w", "object_id": "people", "record_id": f"{record}-{i}"},
            "actor": {"type": "workspace-member", "id": "someone-else"},
        }
        for i, event_type in enumerate(event_types)
    ]
    return json.dumps({"webhook_id": "wh-1", "events": events}).encode()


# Keys come from the signed body, whatever the Idempotency-Key header says.
UPDATED = attio_event_key(attio_body("record.updated"), 0)


async def post_attio(s: QueueStack, body: bytes, key: str = "delivery-1") -> httpx.Response:
    headers = {**attio_signed_headers(body), "Idempotency-Key": key}
    return await s.client.post("/webhooks/attio", content=body, headers=headers)


async def post_item(s: QueueStack, item: dict[str, Any]) -> httpx.Response:
    body = json.dumps({"item": item}).encode()
    return await s.client.post("/webhooks/zoho", content=body, headers=zoho_signed_headers(body))


# -- the intake -------------------------------------------------------------------------------


async def test_a_delivery_is_queued_and_answered_before_any_attio_write(redis_url: str) -> None:
    async with queue_stack(redis_url) as s:
        response = await post_item(s, ITEM)
        assert response.status_code == 200
        assert response.json() == {"events": 1, "queued": 1}
        assert s.writes() == 0
        assert await s.redis.xlen(STREAM) == 1
        [(_, fields)] = await s.redis.xrange(STREAM)
        assert fields[b"channel"] == b"zoho"
        assert json.loads(fields[b"body"]) == {"item": ITEM}
        assert b"x-zoho-webhook-signature" in fields[b"headers"]
        assert fields[b"received_at"]


async def test_the_worker_writes_the_effect_then_acknowledges(redis_url: str) -> None:
    async with queue_stack(redis_url) as s:
        assert (await post_item(s, ITEM)).status_code == 200
        worker = s.worker()
        [entry] = await s.worker_queue.read(worker.consumer, count=10)
        assert await s.pending() == 1  # taken, not yet acknowledged
        assert await worker.handle(entry) is True
        services = {r["values"]["zoho_item_id"]: r["values"] for r in await s.records("services")}
        assert services[ITEM["item_id"]]["name"] == ITEM["name"]
        assert await s.pending() == 0
        assert (await s.worker_queue.stats()).depth == 0


async def test_a_braintree_charge_is_parsed_again_by_the_sdk_at_the_worker(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    FakeBraintreeApi().install(monkeypatch)  # nothing reaches Braintree
    async with queue_stack(redis_url) as s:
        body = braintree_form_body(*signed_fixture("subscription_charged_successfully"))
        response = await s.client.post("/webhooks/braintree", content=body, headers=FORM)
        assert response.json() == {"events": 1, "queued": 1}
        assert s.writes() == 0
        [(_, fields)] = await s.redis.xrange(STREAM)
        assert fields[b"channel"] == b"braintree" and fields[b"body"] == body  # text, no SDK object
        assert await s.drain(s.worker()) == 1
        [subscription] = await s.records("subscriptions")
        assert subscription["values"]["braintree_subscription_id"] == "sub_7kq2mv"
        [person] = await s.records("people")
        assert person["values"]["braintree_customer_id"] == "cust_31fz"


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "application/json"},
        {"Content-Type": "application/json", "Attio-Signature": "0" * 64},
    ],
)
async def test_an_unsigned_request_is_refused_and_never_queued(
    redis_url: str, headers: dict[str, str]
) -> None:
    async with queue_stack(redis_url) as s:
        body = attio_body("record.updated")
        response = await s.client.post("/webhooks/attio", content=body, headers=headers)
        assert response.status_code == 401
        assert await s.redis.xlen(STREAM) == 0


async def test_an_echo_of_our_own_write_is_answered_without_queueing(redis_url: str) -> None:
    async with queue_stack(redis_url, ATTIO_OWN_ACTOR_IDS="own-actor") as s:
        body = json.dumps(
            {
                "webhook_id": "wh-1",
                "events": [
                    {
                        "event_type": "record.updated",
                        "id": {"workspace_id": "w", "object_id": "people", "record_id": "r"},
                        "actor": {"type": "api-token", "id": "own-actor"},
                    }
                ],
            }
        ).encode()
        response = await post_attio(s, body)
        assert response.status_code == 200
        assert response.json()["ignored"] == 1
        assert await s.redis.xlen(STREAM) == 0


async def test_zoho_crm_notifications_go_through_the_queue(redis_url: str) -> None:
    env = {"ZOHO_CRM_NOTIFY_TOKEN": CRM_TOKEN, "ZOHO_CRM_CHANNEL_IDS": CRM_CHANNEL_ID}
    async with queue_stack(redis_url, **env) as s:
        product_id = PRODUCT["id"]
        zoho = FakeZoho.with_items(0)
        zoho.crm_products[product_id] = dict(PRODUCT)
        s.worker_bridge.zoho_service.use_zoho_client(zoho.client())
        body = {
            "server_time": 1_778_000_000_000,
            "query_params": {},
            "module": "Products",
            "resource_uri": "https://www.zohoapis.com/crm/v2/Products",
            "ids": [product_id],
            "affected_fields": [],
            "operation": "insert",
            "channel_id": CRM_CHANNEL_ID,
            "token": CRM_TOKEN,
        }
        response = await s.client.post("/webhooks/zoho/crm", json=body)
        assert response.status_code == 200 and response.json()["queued"] == 1
        [(_, fields)] = await s.redis.xrange(STREAM)
        assert fields[b"channel"] == b"zoho_crm"
        assert await s.drain(s.worker()) == 1
        services = {r["values"]["zoho_item_id"]: r["values"] for r in await s.records("services")}
        assert services[product_id]["zoho_source"] == "crm"


# -- the worker -------------------------------------------------------------------------------


async def test_an_entry_taken_by_a_worker_that_died_is_reclaimed_and_processed(
    redis_url: str,
) -> None:
    async with queue_stack(redis_url) as s:
        handler = FlakyHandler()
        s.register("record.updated", handler)
        assert (await post_attio(s, attio_body("record.updated"))).status_code == 200
        # A consumer takes the entry and dies before acknowledging it.
        [taken] = await s.worker_queue.read("dead-worker", count=1)
        worker = s.worker()
        assert await s.drain(worker) == 0  # nothing unread: the entry is the dead one's
        _, claimed = await s.worker_queue.reclaim(worker.consumer, min_idle_ms=0, count=10)
        assert [c.entry_id for c in claimed] == [taken.entry_id]
        assert claimed[0].times_delivered == 2
        assert await worker.handle(claimed[0]) is True
        assert len(handler.calls) == 1
        assert await s.pending() == 0
        assert (await s.worker_queue.stats()).reclaimed == 1


async def test_the_run_loop_reclaims_processes_and_stops_on_request(redis_url: str) -> None:
    async with queue_stack(redis_url, QUEUE_RECLAIM_IDLE_SECONDS="0.001") as s:
        handler = FlakyHandler()
        s.register("record.updated", handler)
        for n in range(3):
            body = attio_body("record.updated", record=f"r{n}")
            assert (await post_attio(s, body, key=f"delivery-{n}")).status_code == 200
        await s.worker_queue.read("dead-worker", count=1)  # one is left by a dead worker
        worker = s.worker()
        stop = asyncio.Event()
        run = asyncio.create_task(worker.run(stop))
        for _ in range(500):  # bounded: until every entry is acknowledged
            if (await s.worker_queue.stats()).depth == 0:
                break
            await asyncio.sleep(0.01)
        stop.set()
        await run
        assert sorted(e.event_key for e in handler.calls) == sorted(
            attio_event_key(attio_body("record.updated", record=f"r{n}"), 0) for n in range(3)
        )
        assert await s.pending() == 0


class BlockingHandler(FlakyHandler):
    """Holds every event until released, so a test can stop the worker mid-event."""

    def __init__(self) -> None:
        super().__init__()
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, event: WebhookEvent) -> None:
        self.started.set()
        await self.release.wait()
        await super().__call__(event)


async def test_a_stop_request_lets_in_flight_entries_finish_before_the_worker_exits(
    redis_url: str,
) -> None:
    async with queue_stack(redis_url) as s:
        handler = BlockingHandler()
        s.register("record.updated", handler)
        assert (await post_attio(s, attio_body("record.updated"))).status_code == 200
        stop = asyncio.Event()
        run = asyncio.create_task(s.worker().run(stop))
        await handler.started.wait()
        stop.set()
        for _ in range(20):
            await asyncio.sleep(0)
        assert not run.done()  # still finishing the entry it holds
        assert await s.pending() == 1
        handler.release.set()
        await run
        assert len(handler.calls) == 1
        assert await s.pending() == 0


async def test_ledger_unavailable_leaves_the_entry_pending_for_a_later_try(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with queue_stack(redis_url) as s:
        handler = FlakyHandler(failures=1)
        s.register("record.updated", handler)
        assert (await post_attio(s, attio_body("record.updated"))).status_code == 200

        async def ledger_down(*_args: object, **_kwargs: object) -> None:
            raise AttioServerError("Attio is down", attio_status=503)

        ledger = s.worker_bridge.ledger
        with monkeypatch.context() as patch:
            patch.setattr(ledger, "get", ledger_down)
            patch.setattr(ledger, "record_failure", ledger_down)
            worker = s.worker()
            assert await s.drain(worker) == 0
        assert await s.pending() == 1  # not acknowledged: neither in Attio nor in the ledger
        _, [again] = await s.worker_queue.reclaim(worker.consumer, min_idle_ms=0, count=10)
        assert await worker.handle(again) is True
        assert len(handler.calls) == 2
        assert await s.pending() == 0


async def test_an_entry_delivered_too_often_goes_to_the_ledger_as_failed(redis_url: str) -> None:
    async with queue_stack(redis_url, QUEUE_MAX_DELIVERIES="2") as s:
        handler = FlakyHandler()
        s.register("record.updated", handler)
        assert (await post_attio(s, attio_body("record.updated"))).status_code == 200
        await s.worker_queue.read("dead-worker-1", count=1)
        await s.worker_queue.reclaim("dead-worker-2", min_idle_ms=0, count=1)
        worker = s.worker()
        _, [third] = await s.worker_queue.reclaim(worker.consumer, min_idle_ms=0, count=1)
        assert third.times_delivered == 3
        assert await worker.handle(third) is True
        assert handler.calls == []  # not attempted a third time
        record = (await s.ledger())[UPDATED]
        assert record["status"] == "failed"
        assert "QueueDeliveriesExhaustedError" in record["error"]
        assert await s.pending() == 0
        assert (await s.worker_queue.stats()).given_up == 1


async def test_an_entry_that_no_longer_verifies_is_recorded_dead_and_acknowledged(
    redis_url: str,
) -> None:
    async with queue_stack(redis_url) as s:
        s.register("record.updated", FlakyHandler())
        assert (await post_attio(s, attio_body("record.updated"))).status_code == 200
        # The worker runs with a rotated secret: the queued signature no longer verifies.
        rotated = s.settings.model_copy(
            update={"attio_webhook_secret": SecretStr("rotated-secret-987654")}
        )
        async with (
            sandbox_attio_client(s.sandbox_app) as attio,
            build_bridge(rotated, attio) as bridge,
        ):
            worker = worker_for(bridge, rotated, s.worker_queue, consumer="rotated")
            assert await s.drain(worker) == 1
        [(key, record)] = (await s.ledger()).items()
        assert key.startswith("attio:queue:")
        assert record["status"] == "dead"
        assert "no longer verifies" in record["error"]
        assert await s.pending() == 0


# -- replays ----------------------------------------------------------------------------------


async def test_replays_go_through_the_queue_and_the_worker_settles_the_record(
    redis_url: str,
) -> None:
    async with queue_stack(redis_url) as s:
        handler, worker = await s.failed_once()
        assert (await s.ledger())[UPDATED]["status"] == "failed"

        response = await s.client.post(f"/admin/events/{UPDATED}/replay", headers=ADMIN)
        assert response.status_code == 200
        assert response.json()["status"] == "queued"
        assert len(handler.calls) == 1  # not replayed by the web service
        [(_, fields)] = await s.redis.xrevrange(STREAM, count=1)
        assert fields[b"channel"] == b"replay"
        assert fields[b"event_key"] == UPDATED.encode()

        assert await s.drain(worker) == 1
        assert len(handler.calls) == 2
        assert (await s.ledger())[UPDATED]["status"] == "replayed"


async def test_retry_due_queues_the_due_records(redis_url: str) -> None:
    async with queue_stack(redis_url, EVENT_RETRY_SCHEDULE="1") as s:
        _handler, worker = await s.failed_once()
        await s.make_due()
        report = await s.bridge.replayer.retry_due()
        assert report.counts()["queued"] == 1
        assert await s.drain(worker) == 1
        assert (await s.ledger())[UPDATED]["status"] == "replayed"


# -- Redis unreachable ------------------------------------------------------------------------


async def test_redis_down_falls_back_inline_and_queues_again_once_it_is_back() -> None:
    with RedisServer() as server:
        async with queue_stack(server.url) as s:
            s.bridge.queue.retry_interval_seconds = 0.0  # type: ignore[union-attr]
            s.bridge.queue.outage_hold_seconds = 0.0  # type: ignore[union-attr]
            handler = FlakyHandler()
            s.register("record.updated", handler)
            assert (await s.client.get("/readyz")).json() == {"status": "ready", "queue": "queue"}

            server.stop()
            with capture_logs() as logs:
                response = await post_attio(s, attio_body("record.updated"), key="while-down")
                await post_attio(s, attio_body("record.updated"), key="while-down-2")
            assert [e["event"] for e in logs].count("queue.unavailable") == 1  # once, not per call
            assert response.status_code == 200
            assert response.json()["processed"] == 1  # processed inline, nothing lost
            assert len(handler.calls) == 2
            ready = await s.client.get("/readyz")
            assert ready.status_code == 200
            assert ready.json() == {"status": "ready", "queue": "fallback_inline"}
            admin = await s.client.get("/admin/queue", headers=ADMIN)
            assert admin.json() == {"mode": "fallback_inline"}

            server.start()
            with capture_logs() as logs:
                for _ in range(5):  # a connection the restart broke fails once, then reconnects
                    if (await s.client.get("/readyz")).json()["queue"] == "queue":
                        break
            assert [e["event"] for e in logs].count("queue.recovered") == 1
            assert (await s.client.get("/readyz")).json()["queue"] == "queue"
            response = await post_attio(s, attio_body("record.updated"), key="after")
            assert response.json() == {"events": 1, "queued": 1}
            assert len(handler.calls) == 2


# -- observability ----------------------------------------------------------------------------


async def test_admin_queue_needs_the_token_and_shows_depth_and_consumers(redis_url: str) -> None:
    async with queue_stack(redis_url) as s:
        s.register("record.updated", FlakyHandler())
        for n in range(3):
            body = attio_body("record.updated", record=f"r{n}")
            await post_attio(s, body, key=f"delivery-{n}")
        await s.worker_queue.read("worker-a", count=1)

        assert (await s.client.get("/admin/queue")).status_code == 401
        wrong = {"Authorization": "Bearer wrong"}
        assert (await s.client.get("/admin/queue", headers=wrong)).status_code == 401
        response = await s.client.get("/admin/queue", headers=ADMIN)
        assert response.status_code == 200
        state = response.json()
        assert state["mode"] == "queue"
        assert (state["depth"], state["pending"], state["unread"]) == (3, 1, 2)
        assert state["oldest_age_seconds"] >= 0
        assert [(c["name"], c["pending"]) for c in state["consumers"]] == [("worker-a", 1)]
        assert (state["reclaimed"], state["given_up"]) == (0, 0)


async def test_metrics_show_the_queue_at_scrape_time(redis_url: str) -> None:
    async with queue_stack(redis_url) as s:
        s.register("record.updated", FlakyHandler())
        fallbacks = REGISTRY.get_sample_value("bridge_queue_inline_fallbacks_total") or 0.0
        for n in range(2):
            body = attio_body("record.updated", record=f"r{n}")
            await post_attio(s, body, key=f"delivery-{n}")
        auth = {"Authorization": f"Bearer {METRICS_TOKEN}"}
        assert (await s.client.get("/metrics", headers=auth)).status_code == 200
        assert REGISTRY.get_sample_value("bridge_queue_depth") == 2.0
        assert REGISTRY.get_sample_value("bridge_queue_pending") == 0.0
        assert (REGISTRY.get_sample_value("bridge_queue_oldest_age_seconds") or 0.0) >= 0.0
        assert REGISTRY.get_sample_value("bridge_queue_inline_fallbacks_total") == fallbacks
        await s.drain(s.worker())
        await s.client.get("/metrics", headers=auth)
        assert REGISTRY.get_sample_value("bridge_queue_depth") == 0.0


async def test_without_redis_url_readyz_and_admin_say_inline() -> None:
    settings = bridge_settings()
    sandbox_app = make_sandbox()
    await bootstrap(sandbox_app, settings)
    app = create_app(settings, attio_transport=httpx.ASGITransport(app=sandbox_app))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bridge") as client:
        assert (await client.get("/readyz")).json() == {"status": "ready"}
        assert (await client.get("/admin/queue", headers=ADMIN)).json() == {"mode": "inline"}
    await app.state.attio.aclose()


async def test_a_delivery_during_a_redis_restart_waits_for_it_and_is_queued() -> None:
    with RedisServer() as server:
        async with queue_stack(server.url) as s:
            handler = FlakyHandler()
            s.register("record.updated", handler)
            server.stop()
            # Redis is back within the outage hold: the deliveries wait, then are appended.
            restart = asyncio.get_running_loop().call_later(0.5, server.start)
            try:
                responses = await asyncio.gather(
                    *(
                        post_attio(
                            s, attio_body("record.updated", record=f"r{n}"), key=f"in-restart-{n}"
                        )
                        for n in range(5)
                    )
                )
            finally:
                restart.cancel()
            assert [r.json() for r in responses] == [{"events": 1, "queued": 1}] * 5
            assert handler.calls == []  # nothing processed inline
            assert int((await s.redis.xinfo_stream(STREAM))["length"]) == 5
            assert s.bridge.queue is not None and s.bridge.queue.mode is QueueMode.queue


async def test_inline_fallback_refuses_what_the_budget_cannot_start_in_time() -> None:
    with RedisServer() as server:
        async with queue_stack(server.url) as s:
            queue = s.bridge.queue
            assert queue is not None and s.bridge.processor.admission is not None
            queue.outage_hold_seconds = 0.0
            s.register("record.updated", FlakyHandler())
            server.stop()
            s.bridge.processor.admission.in_flight = 10**8  # the write budget is spoken for
            response = await post_attio(s, attio_body("record.updated"), key="shed")
            assert response.status_code == 503
            assert response.json()["error"] == "overloaded"
            assert int(response.headers["retry-after"]) >= 1
            assert (await s.ledger()) == {}  # refused before anything was written


@pytest.mark.parametrize("redis_up", [True, False])
def test_start_up_asks_redis_and_logs_the_queue_mode(redis_url: str, redis_up: bool) -> None:
    url = redis_url if redis_up else f"redis://127.0.0.1:{free_port()}/0"
    settings = bridge_settings(REDIS_URL=url)
    sandbox_app = make_sandbox()
    app = create_app(settings, attio_transport=httpx.ASGITransport(app=sandbox_app))
    with capture_logs() as logs, TestClient(app):  # runs the lifespan
        pass
    (started,) = [e for e in logs if e["event"] == "bridge.started"]
    assert started["queue"] == ("queue" if redis_up else "fallback_inline")


async def test_company_recomputes_wait_while_deliveries_are_queued(redis_url: str) -> None:
    async with queue_stack(redis_url) as s:
        rollup = s.bridge.braintree_service.companies
        s.register("record.updated", FlakyHandler())
        assert not await rollup.busy()
        assert (await post_attio(s, attio_body("record.updated"))).status_code == 200
        assert await rollup.busy()  # a delivery waits: the company's sums can wait too
        await s.drain(s.worker())
        assert not await rollup.busy()


async def test_record_locks_expire_after_half_the_reclaim_idle_time(redis_url: str) -> None:
    async with queue_stack(redis_url, QUEUE_RECLAIM_IDLE_SECONDS="5") as s:
        locks = s.bridge.braintree_service._locks  # the web service, built from the settings
        async with locks.hold("subscriptions:sub_1"):
            ttl_ms = await s.redis.pttl("attio-bridge:lock:braintree:subscriptions:sub_1")
        assert 2000 < ttl_ms <= 2500  # a dead worker's lock is free before 5 s are up


# -- a Redis that answers but refuses writes ----------------------------------------------------


async def post_many(s: QueueStack, count: int, *, prefix: str) -> list[httpx.Response]:
    """`count` different deliveries at once; each must be answered within the processing
    budget plus the ledger's grace (a bound that fails a hang, not a timing)."""
    budget = s.settings.event_processing_budget_seconds
    async with asyncio.timeout(budget + 1):
        return await asyncio.gather(
            *(
                post_attio(
                    s, attio_body("record.updated", record=f"{prefix}{n}"), key=f"{prefix}{n}"
                )
                for n in range(count)
            )
        )


@pytest.mark.parametrize(
    "refuse",
    [
        # Out of memory under noeviction (the blueprint's policy).
        [("CONFIG", "SET", "maxmemory", "1")],
        # A primary told to keep a replica it does not have.
        [("CONFIG", "SET", "min-replicas-to-write", "1")],
    ],
    ids=["oom", "noreplicas"],
)
async def test_a_redis_refusing_writes_means_inline_processing_at_once(
    refuse: list[tuple[str, ...]],
) -> None:
    with RedisServer() as server:
        async with queue_stack(server.url) as s:
            handler = FlakyHandler()
            s.register("record.updated", handler)
            assert s.bridge.queue is not None
            s.bridge.queue.retry_interval_seconds = 0.0  # each delivery asks Redis again
            for command in refuse:
                await s.redis.execute_command(*command)
            responses = await post_many(s, 5, prefix="refused-")
            assert [r.status_code for r in responses] == [200] * 5
            assert [r.json()["processed"] for r in responses] == [1] * 5
            assert len(handler.calls) == 5
            assert (await s.client.get("/readyz")).json()["queue"] == "fallback_inline"
            # PING still answers, but only an append that lands ends the outage.
            assert await s.redis.ping()
            assert s.bridge.queue.mode is QueueMode.fallback_inline
            await s.redis.config_set("maxmemory", "0")
            await s.redis.config_set("min-replicas-to-write", "0")
            response = await post_attio(s, attio_body("record.updated", record="after"), "after")
            assert response.json() == {"events": 1, "queued": 1}
            assert await s.redis.xlen(STREAM) == 1  # nothing refused was appended later
            assert len(handler.calls) == 5


async def test_a_replica_answering_readonly_means_inline_processing_at_once() -> None:
    with RedisServer() as primary, RedisServer() as replica:
        async with queue_stack(replica.url) as s:
            handler = FlakyHandler()
            s.register("record.updated", handler)
            await s.redis.execute_command("REPLICAOF", "127.0.0.1", str(primary.port))
            responses = await post_many(s, 3, prefix="readonly-")
            assert [r.json()["processed"] for r in responses] == [1] * 3
            assert len(handler.calls) == 3
            await s.redis.execute_command("REPLICAOF", "NO", "ONE")


async def test_writes_paused_means_inline_processing_and_no_late_append() -> None:
    with RedisServer() as server:
        async with queue_stack(server.url) as s:
            handler = FlakyHandler()
            s.register("record.updated", handler)
            await s.redis.execute_command("CLIENT", "PAUSE", "4000", "WRITE")
            try:
                responses = await post_many(s, 4, prefix="paused-")
            finally:
                await s.redis.execute_command("CLIENT", "UNPAUSE")
            assert [r.json()["processed"] for r in responses] == [1] * 4
            assert len(handler.calls) == 4
            # The appends held by the pause ran after their senders stopped waiting: no-ops.
            await s.redis.set("sync-point", "1")  # a write: runs after every held one
            assert await s.redis.xlen(STREAM) == 0
            worker = s.worker()
            assert await s.drain(worker) == 0
            assert len(handler.calls) == 4


async def test_an_append_whose_answer_was_lost_is_voided_and_skipped_by_the_worker(
    redis_url: str,
) -> None:
    async with queue_stack(redis_url) as s:
        handler = FlakyHandler()
        s.register("record.updated", handler)
        queue = s.bridge.queue
        assert queue is not None
        queue.outage_hold_seconds = 0.0
        real = queue._append_script

        async def lands_but_no_answer(**kwargs: Any) -> Any:
            await real(**kwargs)  # appended
            raise RedisConnectionError("Connection reset by peer")  # ... but no answer came

        queue._append_script = lands_but_no_answer  # type: ignore[method-assign,assignment]
        response = await post_attio(s, attio_body("record.updated"))
        assert response.json()["processed"] == 1  # inline
        queue._append_script = real  # type: ignore[method-assign]
        for _ in range(100):  # the void is written in the background, once Redis takes it
            if not queue._to_void:
                break
            await asyncio.sleep(0.01)
        assert await s.redis.xlen(STREAM) == 1
        assert await s.drain(s.worker()) == 1  # acknowledged ...
        assert len(handler.calls) == 1  # ... but not processed a second time
        assert await s.pending() == 0


# -- duplicates and the length cap --------------------------------------------------------------


async def test_replays_of_one_delivery_collapse_while_it_is_queued(redis_url: str) -> None:
    async with queue_stack(redis_url) as s:
        handler = FlakyHandler()
        s.register("record.updated", handler)
        body = attio_body("record.updated")
        first = await post_attio(s, body, key="original")
        # A stored delivery sent again, with fresh unsigned Idempotency-Keys.
        again = [await post_attio(s, body, key=f"replayed-{n}") for n in range(5)]
        assert all(r.json() == first.json() == {"events": 1, "queued": 1} for r in again)
        assert await s.redis.xlen(STREAM) == 1
        worker = s.worker()
        assert await s.drain(worker) == 1
        assert len(handler.calls) == 1
        # Once it is handled, the same delivery is queued (and applied, idempotently) again.
        await post_attio(s, body, key="later")
        assert await s.drain(worker) == 1


async def test_a_full_stream_answers_503_with_retry_after(redis_url: str) -> None:
    async with queue_stack(redis_url, QUEUE_MAX_LENGTH="3") as s:
        handler = FlakyHandler()
        s.register("record.updated", handler)
        for n in range(3):
            response = await post_attio(s, attio_body("record.updated", record=f"r{n}"), f"k{n}")
            assert response.json()["queued"] == 1
        refused = await post_attio(s, attio_body("record.updated", record="more"), "more")
        assert refused.status_code == 503
        assert refused.json()["error"] == "queue_full"
        assert int(refused.headers["retry-after"]) >= 1
        assert handler.calls == []  # refused, not processed inline
        assert await s.redis.xlen(STREAM) == 3


# -- entries that cannot be used --------------------------------------------------------------


async def test_an_entry_that_raises_while_decoded_is_recorded_dead_and_acknowledged(
    redis_url: str,
) -> None:
    async with queue_stack(redis_url) as s:
        s.register("record.updated", FlakyHandler())
        nested = "[" * 100_000 + "]" * 100_000  # RecursionError in json.loads
        bad = await s.redis.xadd(STREAM, {"channel": "attio", "body": "{}", "headers": nested})
        assert (await post_attio(s, attio_body("record.updated"))).status_code == 200
        assert await s.drain(s.worker()) == 2
        assert await s.pending() == 0
        record = (await s.ledger())[f"attio:queue:{bad.decode()}"]
        assert record["status"] == "dead"
        assert "RecursionError" in record["error"]
        assert await s.worker_queue.trim() == 2  # nothing left blocking the trim


async def test_a_zoho_crm_token_is_neither_queued_nor_recorded(redis_url: str) -> None:
    env = {"ZOHO_CRM_NOTIFY_TOKEN": CRM_TOKEN, "ZOHO_CRM_CHANNEL_IDS": CRM_CHANNEL_ID}
    async with queue_stack(redis_url, **env) as s:
        body = {
            "server_time": 1_778_000_000_000,
            "module": "Products",
            "ids": [PRODUCT["id"]],
            "operation": "update",
            "channel_id": CRM_CHANNEL_ID,
            "token": CRM_TOKEN,
        }
        assert (await s.client.post("/webhooks/zoho/crm", json=body)).json()["queued"] == 1
        [(_, fields)] = await s.redis.xrange(STREAM)
        assert CRM_TOKEN.encode() not in b"".join(fields.values())
        # The worker's CRM webhooks are switched off: the entry goes to the ledger as dead.
        async with (
            sandbox_attio_client(s.sandbox_app) as attio,
            build_bridge(
                s.settings.model_copy(update={"zoho_crm_notify_token": None}), attio
            ) as bridge,
        ):
            worker = worker_for(bridge, s.settings, s.worker_queue, consumer="crm-off")
            assert await s.drain(worker) == 1
        [record] = (await s.ledger()).values()
        assert record["status"] == "dead"
        assert CRM_TOKEN not in json.dumps(record)


# -- replays of ledger records ------------------------------------------------------------------


async def test_three_retry_due_runs_mean_one_processing(redis_url: str) -> None:
    async with queue_stack(redis_url, EVENT_RETRY_SCHEDULE="1") as s:
        handler, worker = await s.failed_once()
        await s.make_due()
        for _ in range(3):
            assert (await s.bridge.replayer.retry_due()).counts()["queued"] == 1
        assert await s.drain(worker) <= 3
        assert len(handler.calls) == 2  # the failed attempt, then one replay
        assert (await s.ledger())[UPDATED]["status"] == "replayed"


async def test_a_queued_replay_of_a_record_settled_meanwhile_is_not_processed(
    redis_url: str,
) -> None:
    async with queue_stack(redis_url) as s:
        handler, worker = await s.failed_once()
        key = UPDATED
        assert (await s.client.post(f"/admin/events/{key}/replay", headers=ADMIN)).json()[
            "status"
        ] == "queued"
        [entry] = await s.worker_queue.read(worker.consumer, count=10)
        # Meanwhile the record is replayed elsewhere (inline: an operator, Redis away).
        record = await s.bridge.ledger.get(key)
        assert record is not None
        await s.bridge.replayer.replay(record, inline=True)
        assert len(handler.calls) == 2
        assert await worker.handle(entry) is True
        assert len(handler.calls) == 2  # the queued replay found it settled


# -- dead workers -------------------------------------------------------------------------------


async def test_a_dead_workers_entries_are_taken_at_once_and_it_leaves_the_group(
    redis_url: str,
) -> None:
    # The default idle time (60 s): only the missing heartbeat can explain a prompt takeover.
    async with queue_stack(redis_url) as s:
        handler = FlakyHandler()
        s.register("record.updated", handler)
        for n in range(2):
            await post_attio(s, attio_body("record.updated", record=f"r{n}"), key=f"d{n}")
        consumers = s.worker_queue.consumers
        await s.worker_queue.read("dead-worker", count=1)  # took one, then died (no heartbeat)
        await consumers.beat("slow-worker")
        await s.worker_queue.read("slow-worker", count=1)  # alive, just slow
        worker = s.worker("worker-1")
        await consumers.beat(worker.consumer)
        consumers.ttl_seconds = 0.0  # no need to wait out the dead one's quiet time
        _, claimed = await s.worker_queue.reclaim(worker.consumer, min_idle_ms=0, count=10)
        assert len(claimed) == 1  # the dead one's; the slow live one keeps its entry
        assert await worker.handle(claimed[0]) is True
        await consumers.take_from_dead(worker.consumer, count=10)
        names = {c.name for c in (await s.worker_queue.stats()).consumers}
        assert names == {"slow-worker", "worker-1"}
        assert await s.pending() == 1


async def test_a_delivery_arriving_while_its_twin_is_processed_is_queued_again(
    redis_url: str,
) -> None:
    # Attio's bodies carry no time: two updates of one record can be the same bytes, and the
    # second must not be folded into a processing that may have read the record before it.
    async with queue_stack(redis_url) as s:
        handler = BlockingHandler()
        s.register("record.updated", handler)
        body = attio_body("record.updated")
        await post_attio(s, body, key="first-update")
        worker = s.worker()
        [entry] = await s.worker_queue.read(worker.consumer, count=1)
        await post_attio(s, body, key="same-bytes-before-start")
        assert await s.redis.xlen(STREAM) == 1  # still waiting: collapsed
        handling = asyncio.create_task(worker.handle(entry))
        await handler.started.wait()
        await post_attio(s, body, key="second-update")
        assert await s.redis.xlen(STREAM) == 2  # being processed: queued again
        handler.release.set()
        assert await handling is True
        assert await s.drain(worker) == 1
        assert len(handler.calls) == 2


async def test_the_run_loop_takes_over_a_killed_workers_entry_at_the_default_idle_time(
    redis_url: str,
) -> None:
    async with queue_stack(redis_url) as s:  # QUEUE_RECLAIM_IDLE_SECONDS at its default, 60
        s.worker_queue.consumers.ttl_seconds = 0.5  # heartbeats expire fast (beats every 0.1 s)
        handler = BlockingHandler()
        s.register("record.updated", handler)
        await post_attio(s, attio_body("record.updated"))
        first = asyncio.create_task(s.worker("first").run(asyncio.Event()))
        await handler.started.wait()
        first.cancel()  # killed mid-entry: no clean stop, its heartbeat just stops
        with pytest.raises(asyncio.CancelledError):
            await first
        handler.release.set()
        stop = asyncio.Event()
        second = asyncio.create_task(s.worker("second").run(stop))
        try:
            for _ in range(200):  # bounded: the idle rule alone would need a minute
                names = {c.name for c in (await s.worker_queue.stats()).consumers}
                if len(handler.calls) == 1 and await s.pending() == 0 and "first" not in names:
                    break
                await asyncio.sleep(0.05)
        finally:
            stop.set()
            await second
        assert len(handler.calls) == 1
        assert await s.pending() == 0
        assert "first" not in names  # removed from the group


async def test_an_entry_the_worker_left_pending_is_tried_again_soon_by_itself(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with queue_stack(redis_url) as s:  # the reclaim idle time at its default, 60 s
        handler = FlakyHandler(failures=1)
        s.register("record.updated", handler)
        await post_attio(s, attio_body("record.updated"))
        ledger = s.worker_bridge.ledger
        down = {"calls": 0}
        real_get = ledger.get

        async def down_once(event_key: str) -> Any:
            down["calls"] += 1
            if down["calls"] == 1:  # the first failure cannot be recorded either
                raise AttioServerError("Attio is down", attio_status=503)
            return await real_get(event_key)

        monkeypatch.setattr(ledger, "get", down_once)
        worker = s.worker()
        worker._settings = dataclasses.replace(worker._settings, own_retry_seconds=0.05)
        stop = asyncio.Event()
        run = asyncio.create_task(worker.run(stop))
        try:
            for _ in range(200):  # bounded: the idle rule alone would need a minute
                if len(handler.calls) == 2 and await s.pending() == 0:
                    break
                await asyncio.sleep(0.05)
        finally:
            stop.set()
            await run
        assert len(handler.calls) == 2  # left pending once, then done by the same worker
        assert await s.pending() == 0
