"""The workspace's shared Attio limiter (GCRA in Redis), against a real redis-server.

Two limiters on their own connections stand for two processes. Nothing is timed: starts are the
reservations' own times in Redis's clock, and sleeps are recorded rather than slept.
"""

from __future__ import annotations

import asyncio
import itertools

import pytest
import structlog

from app.clients.attio import AttioClient
from app.clients.attio.ratelimit import RateLimiter, ahead_of_the_queue
from app.clients.attio.shared_ratelimit import UNSEEN_SPENDERS, SharedRateLimiter
from app.clients.redis import Redis, connect
from app.config import Settings
from testkit.processes import free_port
from testkit.redis_server import RedisServer


class RecordedSleeps:
    def __init__(self) -> None:
        self.slept: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)


async def test_two_processes_share_one_evenly_spaced_bucket(
    two_connections: tuple[Redis, Redis],
) -> None:
    rate = 25.0
    a, b = (SharedRateLimiter(redis, "writes", rate) for redis in two_connections)
    reservations = await asyncio.gather(
        *(limiter.reserve() for _ in range(60) for limiter in (a, b))
    )
    starts = sorted(start for _wait, start in reservations)
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    # Burst of one: every start at least one interval after the previous (µs rounding aside).
    assert min(gaps) >= 1 / rate - 1e-6
    # So any one-second window of Redis time holds at most `rate` starts, across both.
    for i, first in enumerate(starts):
        in_window = sum(1 for start in starts[i:] if start < first + 1.0)
        assert in_window <= rate
    # The queue is real: later callers were told to wait, about the backlog ahead of them
    # (less the Redis time that passed while the reservations were made, on a busy machine).
    waits = sorted(wait for wait, _start in reservations)
    asked = [start - wait for wait, start in reservations]
    assert waits[0] < 1 / rate
    assert waits[-1] >= (len(starts) - 2) / rate - (max(asked) - min(asked))


async def test_buckets_are_independent(two_connections: tuple[Redis, Redis]) -> None:
    redis, _ = two_connections
    writes = SharedRateLimiter(redis, "writes", 1.0)
    reads = SharedRateLimiter(redis, "reads", 1.0)
    await writes.reserve()
    await writes.reserve()
    wait, _ = await reads.reserve()
    assert wait == 0


async def test_a_429_in_one_process_pauses_the_other(
    two_connections: tuple[Redis, Redis],
) -> None:
    first, second = two_connections
    a = SharedRateLimiter(first, "writes", 100.0)
    b = SharedRateLimiter(second, "writes", 100.0)
    a.pause(2.0)
    await asyncio.gather(*a._pending)
    # A shorter pause never cuts a longer one short.
    a.pause(0.1)
    await asyncio.gather(*a._pending)
    assert await first.pttl("attio-bridge:ratelimit:writes:pause") > 1000
    wait, _ = await b.reserve()
    assert wait > 1.5


async def test_acquire_sleeps_the_reserved_wait(two_connections: tuple[Redis, Redis]) -> None:
    sleeps = RecordedSleeps()
    limiter = SharedRateLimiter(two_connections[0], "reads", 10.0, sleep=sleeps)
    for _ in range(3):
        await limiter.acquire()
    # The first start is immediate, each next one a tenth of a second after the previous (the
    # recorded sleeps do not pass time, so the second waits for two intervals).
    assert len(sleeps.slept) == 2
    assert 0.05 < sleeps.slept[0] <= 0.1
    assert 0.15 < sleeps.slept[1] <= 0.2


async def test_unreachable_redis_falls_back_to_the_process_limiter() -> None:
    redis = connect(f"redis://127.0.0.1:{free_port()}/0")
    fallback = RateLimiter(1000.0)
    limiter = SharedRateLimiter(redis, "writes", 1000.0, fallback=fallback)
    try:
        with structlog.testing.capture_logs() as logs:
            await limiter.acquire()
            await limiter.acquire()
            limiter.pause(0.5)
        assert not limiter.shared
        warnings = [e for e in logs if e["event"] == "attio.limiter.redis_unreachable"]
        assert len(warnings) == 1  # once per transition, not per call
        assert fallback._paused_until > float("-inf")
    finally:
        await redis.aclose()


async def test_from_settings_shares_the_budget_when_redis_is_configured(redis_url: str) -> None:
    settings = Settings.model_validate({"REDIS_URL": redis_url, "ATTIO_WRITE_RATE": 20})
    client = AttioClient.from_settings(settings, api_key="k")
    try:
        assert isinstance(client.write_limiter, SharedRateLimiter)
        assert client.write_limiter.bucket == "writes" and client.write_limiter.rate == 20
        assert isinstance(client.read_limiter, SharedRateLimiter)
    finally:
        await client.aclose()
    alone = AttioClient.from_settings(Settings.model_validate({}), api_key="k")
    try:
        assert isinstance(alone.write_limiter, RateLimiter)
    finally:
        await alone.aclose()


async def test_without_redis_a_process_spends_only_its_share_of_the_rate() -> None:
    with RedisServer() as server:
        processes = [connect(server.url, retries=0) for _ in range(3)]
        try:
            limiters = [SharedRateLimiter(redis, "writes", 24.0) for redis in processes]
            for _ in range(2):  # each has reserved, and has seen the others do so
                for limiter in limiters:
                    await limiter.reserve()
            assert [limiter.spenders for limiter in limiters] == [3, 3, 3]
            server.stop()
            with structlog.testing.capture_logs() as logs:
                await limiters[0].acquire()
            assert not limiters[0].shared
            assert limiters[0].fallback.rate == pytest.approx(8.0)  # 24 shared by three
            [warning] = [e for e in logs if e["event"] == "attio.limiter.redis_unreachable"]
            assert (warning["spenders"], warning["share"]) == (3, 8.0)
        finally:
            for redis in processes:
                await redis.aclose()


async def test_a_process_that_never_reached_redis_assumes_a_conservative_share() -> None:
    redis = connect(f"redis://127.0.0.1:{free_port()}/0", retries=0)
    limiter = SharedRateLimiter(redis, "reads", 20.0)
    try:
        await limiter.acquire()
        assert limiter.fallback.rate == pytest.approx(20.0 / UNSEEN_SPENDERS)
    finally:
        await redis.aclose()


class VirtualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


async def test_a_call_ahead_of_the_queue_takes_the_next_slot_without_waiting_its_turn() -> None:
    clock = VirtualClock()
    limiter = RateLimiter(10, clock=clock, sleep=clock.sleep)
    await limiter._lock.acquire()  # callers queued ahead hold the FIFO
    try:
        with ahead_of_the_queue():
            # Would never finish if it queued behind the held lock (the guard is not a timing).
            await asyncio.wait_for(limiter.acquire(), timeout=30)
    finally:
        limiter._lock.release()
    assert clock.now == 0.0
    # The queue goes on, one interval after the slot that was taken: spacing is kept.
    await limiter.acquire()
    assert clock.now == pytest.approx(0.1)
