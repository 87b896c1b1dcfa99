"""The intake: verify and parse once, ask the dispatcher once, then queue or process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import structlog

from app.clients.redis import connect as connect_redis
from app.errors import MalformedPayloadError, SignatureError
from app.events.dispatcher import Dispatcher, Handler
from app.events.intake import receive
from app.events.ledger import Ledger
from app.events.model import RawRequest, Source, WebhookEvent
from app.events.processor import EventProcessor
from app.events.queue import STREAM, EventQueue, QueuedDelivery, QueueFullError
from app.metrics import REGISTRY
from testkit.processes import free_port
from tests.events.test_admission import FakeLedger, event

RAW = RawRequest(body='{"events": []}', headers={"content-type": "application/json"})


class CountingDispatcher(Dispatcher):
    """Handles `charged`; counts every question asked of it."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str] = []
        self.handled: list[str] = []
        self.register(Source.braintree, "charged", self._handle)

    async def _handle(self, event: WebhookEvent) -> None:
        self.handled.append(event.event_key)

    def handler_for(self, event: WebhookEvent) -> Handler | None:
        self.asked.append(event.event_key)
        return super().handler_for(event)


class FixedSource:
    """A source whose verification yields `events`, or raises `error`."""

    source = Source.braintree

    def __init__(self, events: list[WebhookEvent], error: Exception | None = None) -> None:
        self.events = events
        self.error = error
        self.verified: list[RawRequest] = []

    async def events_from(self, raw: RawRequest) -> list[WebhookEvent]:
        self.verified.append(raw)
        if self.error is not None:
            raise self.error
        return self.events


def processor(dispatcher: Dispatcher) -> EventProcessor:
    fake: Any = FakeLedger()
    ledger: Ledger = fake
    return EventProcessor(dispatcher, ledger)


def sample() -> list[WebhookEvent]:
    echo = event(key="echo").model_copy(update={"ignore_reason": "our own write"})
    return [event(key="k1"), event(key="k2", kind="check"), echo]


@pytest.fixture
async def queue(redis_url: str) -> AsyncIterator[EventQueue]:
    queue = EventQueue(connect_redis(redis_url))
    yield queue
    await queue.aclose()


async def test_inline_processes_with_one_question_per_event() -> None:
    dispatcher = CountingDispatcher()
    source = FixedSource(sample())
    answer = await receive(source, RAW, processor=processor(dispatcher), queue=None)
    assert answer == {"events": 3, "processed": 1, "ignored": 2, "recorded": 0}
    assert source.verified == [RAW]
    assert dispatcher.handled == ["k1"]
    assert dispatcher.asked == ["k1", "k2"]  # an echo needs no question


async def test_queue_mode_appends_the_raw_request_and_answers_at_once(queue: EventQueue) -> None:
    dispatcher = CountingDispatcher()
    answer = await receive(
        FixedSource(sample()), RAW, processor=processor(dispatcher), queue=queue, channel="c"
    )
    assert answer == {"events": 3, "queued": 3}
    assert dispatcher.handled == []
    assert dispatcher.asked == ["k1", "k2"]
    ((entry_id, fields),) = await queue.redis.xrange(STREAM)
    queued = QueuedDelivery.from_entry(entry_id, fields)
    assert (queued.channel, queued.raw) == ("c", RAW)


async def test_queue_mode_names_the_provider_by_default(queue: EventQueue) -> None:
    await receive(FixedSource(sample()), RAW, processor=processor(Dispatcher()), queue=queue)
    # Nothing has a handler here, so nothing was queued.
    assert await queue.redis.xlen(STREAM) == 0
    dispatcher = CountingDispatcher()
    await receive(FixedSource(sample()), RAW, processor=processor(dispatcher), queue=queue)
    ((_, fields),) = await queue.redis.xrange(STREAM)
    assert fields[b"channel"] == b"braintree"


async def test_queue_mode_answers_a_delivery_without_work_itself(queue: EventQueue) -> None:
    dispatcher = CountingDispatcher()
    events = [event(key="k2", kind="check")]
    answer = await receive(FixedSource(events), RAW, processor=processor(dispatcher), queue=queue)
    assert answer == {"events": 1, "processed": 0, "ignored": 1, "recorded": 0}
    assert await queue.redis.xlen(STREAM) == 0
    assert dispatcher.asked == ["k2"]


async def test_unreachable_redis_processes_inline_with_one_question_per_event() -> None:
    queue = EventQueue(
        connect_redis(f"redis://127.0.0.1:{free_port()}/0", retries=0), outage_hold_seconds=0
    )
    dispatcher = CountingDispatcher()
    try:
        answer = await receive(
            FixedSource(sample()), RAW, processor=processor(dispatcher), queue=queue
        )
    finally:
        await queue.aclose()
    assert answer == {"events": 3, "processed": 1, "ignored": 2, "recorded": 0}
    assert dispatcher.handled == ["k1"]
    assert dispatcher.asked == ["k1", "k2"]


def count(sample: str, labels: dict[str, str]) -> float:
    """A counter's value; 0 while no request has created its label."""
    return REGISTRY.get_sample_value(sample, labels) or 0.0


@pytest.mark.parametrize(
    ("error", "log_event", "sample", "labels"),
    [
        (
            SignatureError("no"),
            "webhook.signature_invalid",
            "bridge_signature_failures_total",
            {"source": "braintree"},
        ),
        (
            MalformedPayloadError("bad"),
            "webhook.malformed",
            "bridge_rejected_requests_total",
            {"source": "braintree", "status": "400"},
        ),
    ],
)
async def test_a_refused_delivery_is_counted_and_logged(
    error: Exception, log_event: str, sample: str, labels: dict[str, str]
) -> None:
    dispatcher = CountingDispatcher()
    before = count(sample, labels)
    with structlog.testing.capture_logs() as logs, pytest.raises(type(error)):
        await receive(FixedSource([], error), RAW, processor=processor(dispatcher), queue=None)
    assert count(sample, labels) == before + 1
    assert [entry["event"] for entry in logs] == [log_event]
    assert dispatcher.asked == []


class FullQueue:
    """A stream at QUEUE_MAX_LENGTH: every append is refused."""

    def __init__(self) -> None:
        self.appended = 0

    async def enqueue(self, _channel: str, _raw: RawRequest) -> None:
        self.appended += 1
        raise QueueFullError("The queue is full; retry later.")


async def test_a_full_queue_refuses_a_sender_that_redelivers() -> None:
    dispatcher = CountingDispatcher()
    full: Any = FullQueue()
    with pytest.raises(QueueFullError):
        await receive(
            FixedSource([event(key="k1")]), RAW, processor=processor(dispatcher), queue=full
        )
    assert full.appended == 1 and dispatcher.handled == []  # nothing done: the 503 says retry


async def test_a_full_queue_keeps_zoho_deliveries_in_the_ledger() -> None:
    dispatcher = CountingDispatcher()
    dispatcher.register(Source.zoho, "item", dispatcher._handle)
    source = FixedSource([event(Source.zoho, key="z1", kind="item")])
    source.source = Source.zoho
    fake: Any = FakeLedger()
    full: Any = FullQueue()
    answer = await receive(source, RAW, processor=EventProcessor(dispatcher, fake), queue=full)
    # Zoho never redelivers: kept for the retry job rather than refused.
    assert answer == {"events": 1, "processed": 0, "ignored": 0, "recorded": 1}
    assert fake.failures == [
        ("z1", "_Deferred: deferred: the queue was full; applied by the retry job")
    ]
    assert dispatcher.handled == []
