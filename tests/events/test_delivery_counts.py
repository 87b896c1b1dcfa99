"""The delivery counts behind the console's chart: per hour, source and outcome."""

from __future__ import annotations

from app.clients.redis import connect as connect_redis
from app.events.delivery_counts import WINDOW_HOURS, DeliveryOutcome, DeliveryRecorder
from app.events.model import Outcome, Source


def totals(history, source: Source) -> dict[DeliveryOutcome, int]:
    return {o: sum(h.count(source, o) for h in history.hours) for o in DeliveryOutcome}


async def test_in_process_counts_by_source_and_outcome() -> None:
    recorder = DeliveryRecorder()
    recorder.verified(Source.braintree)
    assert recorder.outcome(Source.braintree, Outcome.processed) is Outcome.processed
    recorder.outcome(Source.braintree, Outcome.recorded)
    recorder.outcome(Source.zoho, Outcome.ignored)
    history = await recorder.history()
    assert history.origin == "process"
    assert len(history.hours) == WINDOW_HOURS
    assert history.hours[0].hour < history.hours[-1].hour
    assert totals(history, Source.braintree) == {
        DeliveryOutcome.verified: 1,
        DeliveryOutcome.processed: 1,
        DeliveryOutcome.ignored: 0,
        DeliveryOutcome.failed: 1,
    }
    assert totals(history, Source.zoho)[DeliveryOutcome.ignored] == 1
    assert set(history.last_verified) == {Source.braintree}


async def test_redis_counts_are_shared_between_processes(redis_url: str) -> None:
    web, worker = DeliveryRecorder(), DeliveryRecorder()
    web.use_redis(connect_redis(redis_url))
    worker.use_redis(connect_redis(redis_url))
    web.verified(Source.attio)
    worker.outcome(Source.attio, Outcome.processed)
    worker.outcome(Source.attio, Outcome.processed)
    await web.drain()
    await worker.drain()
    seen_by_web = await web.history()
    assert seen_by_web.origin == "redis"
    assert totals(seen_by_web, Source.attio)[DeliveryOutcome.processed] == 2
    assert totals(seen_by_web, Source.attio)[DeliveryOutcome.verified] == 1
    assert Source.attio in (await worker.history()).last_verified
    client = connect_redis(redis_url)
    keys = [k async for k in client.scan_iter("attio-bridge:deliveries:*")]
    hourly = [k for k in keys if not k.endswith(b"last-verified")]
    ttls = [await client.ttl(key) for key in hourly]
    assert ttls and all(0 < ttl <= 25 * 3600 for ttl in ttls)
    await client.aclose()


async def test_unreachable_redis_falls_back_to_this_process() -> None:
    recorder = DeliveryRecorder()
    recorder.use_redis(connect_redis("redis://127.0.0.1:1", retries=0, connect_timeout=0.2))
    recorder.outcome(Source.zoho, Outcome.recorded)
    await recorder.drain()  # the failed write is logged, never raised
    history = await recorder.history()
    assert history.origin == "process"
    assert totals(history, Source.zoho)[DeliveryOutcome.failed] == 1
