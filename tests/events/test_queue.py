"""The stream underneath queue mode, on a real Redis: entries, the group, trimming, stats."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from app.clients.redis import connect as connect_redis
from app.events.model import RawRequest
from app.events.queue import (
    STREAM,
    EventQueue,
    QueuedDelivery,
    QueueMode,
    QueueUnavailableError,
    _next_id,
)
from testkit.processes import free_port

RAW = RawRequest(
    body='{"item": {"item_id": "1"}}',
    headers={"content-type": "application/json", "x-zoho-webhook-signature": "abc"},
    query="action=deleted",
    path="/webhooks/zoho",
)


def raw(n: int) -> RawRequest:
    """A different delivery each (the same body twice is one event: the second collapses)."""
    return RawRequest(
        body=f'{{"item": {{"item_id": "{n}"}}}}', headers=RAW.headers, query="", path=RAW.path
    )


@pytest.mark.parametrize(
    ("entry_id", "following"),
    [("0-0", "0-1"), ("1700000000000-0", "1700000000000-1"), ("5-41", "5-42"), ("7", "7-1")],
)
def test_next_id_is_the_smallest_id_after(entry_id: str, following: str) -> None:
    assert _next_id(entry_id) == following


@pytest.mark.parametrize("event_key", [None, "attio:delivery-1:0"])
def test_an_entry_holds_exactly_the_raw_request(event_key: str | None) -> None:
    at = datetime(2026, 5, 2, 16, 14, 3, tzinfo=UTC)
    fields = QueuedDelivery("", "zoho", RAW, at, event_key).fields()
    back = QueuedDelivery.from_entry(
        b"1-0", {key.encode(): value.encode() for key, value in fields.items()}
    )
    assert back == QueuedDelivery("1-0", "zoho", RAW, at, event_key)


@pytest.fixture
async def queue(redis_url: str) -> AsyncIterator[EventQueue]:
    queue = EventQueue(connect_redis(redis_url))
    yield queue
    await queue.aclose()


async def test_trim_drops_acknowledged_entries_only(queue: EventQueue) -> None:
    ids = [await queue.enqueue("zoho", raw(n)) for n in range(4)]
    await queue.ensure_group()
    first, second = await queue.read("w", count=2)
    assert await queue.trim() == 0  # both taken, none acknowledged
    await queue.ack(second.entry_id)
    assert await queue.trim() == 0  # the first still pending keeps everything after it
    await queue.ack(first.entry_id)
    assert await queue.trim() == 2
    remaining = [entry_id.decode() for entry_id, _ in await queue.redis.xrange(STREAM)]
    assert remaining == ids[2:]  # never handed out: kept
    stats = await queue.stats()
    assert (stats.depth, stats.pending, stats.unread) == (2, 0, 2)


async def test_the_backlog_is_what_waits_or_is_being_processed(queue: EventQueue) -> None:
    assert await queue.backlog() == 0
    await queue.enqueue("zoho", raw(1))
    await queue.enqueue("zoho", raw(2))
    assert await queue.backlog() == 2  # no worker has made the group yet
    await queue.ensure_group()
    (taken,) = await queue.read("w", count=1)
    assert await queue.backlog() == 2  # one pending, one unread
    await queue.ack(taken.entry_id)
    assert await queue.backlog() == 1


async def test_stats_before_any_worker_made_the_group(queue: EventQueue) -> None:
    await queue.enqueue("attio", RAW)
    stats = await queue.stats()
    assert (stats.depth, stats.pending, stats.consumers) == (1, 0, [])
    assert await queue.trim() == 0


async def test_a_group_made_after_appends_reads_them_all(queue: EventQueue) -> None:
    await queue.enqueue("attio", RAW)
    await queue.ensure_group()
    await queue.ensure_group()  # idempotent
    assert len(await queue.read("w", count=10)) == 1


async def test_an_unreachable_redis_is_asked_again_only_after_the_interval() -> None:
    queue = EventQueue(
        connect_redis(f"redis://127.0.0.1:{free_port()}/0", retries=0),
        retry_interval_seconds=3600,
        outage_hold_seconds=0,
    )
    try:
        with pytest.raises(QueueUnavailableError):
            await queue.enqueue("attio", RAW)
        assert queue.mode is QueueMode.fallback_inline
        # Within the interval: refused without a connection attempt, and check() stays put.
        with pytest.raises(QueueUnavailableError) as refused:
            await queue.enqueue("attio", RAW)
        assert refused.value.__cause__ is None
        assert await queue.check() is QueueMode.fallback_inline
    finally:
        await queue.aclose()


async def test_an_entry_that_does_not_decode_comes_back_marked_instead_of_raising(
    queue: EventQueue,
) -> None:
    await queue.ensure_group()
    nested = "[" * 100_000 + "]" * 100_000  # json.loads raises RecursionError on it
    await queue.redis.xadd(STREAM, {"channel": "attio", "body": "{}", "headers": nested})
    await queue.redis.xadd(STREAM, {"channel": "attio", "body": "{}", "headers": "not json"})
    good = await queue.enqueue("attio", RAW)
    deep, broken, fine = await queue.read("w", count=10)
    assert (deep.defect, deep.channel) == ("RecursionError", "attio")
    assert broken.defect == "JSONDecodeError"
    assert (fine.entry_id, fine.defect) == (good, None)
