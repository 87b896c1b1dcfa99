"""Per-record locks shared through Redis, against a real redis-server.

Two `KeyedLocks` on their own connections stand for two processes. Every wait for a lock is
bounded, so a lock that is never freed fails the test instead of hanging it.
"""

from __future__ import annotations

import asyncio

import structlog

from app.clients.redis import Redis, connect
from app.services.locks import KeyedLocks, RedisLocks
from testkit.processes import free_port

# Far beyond any wait here when the locks work (the longest: twelve holders one after another,
# each noticed within the 0.25 s polling cap), far below the 30 s expiry a lost release costs.
BOUND_SECONDS = 10.0


def bounded() -> asyncio.Timeout:
    return asyncio.timeout(BOUND_SECONDS)


async def test_two_processes_never_hold_the_same_key_at_once(
    two_connections: tuple[Redis, Redis],
) -> None:
    a, b = (KeyedLocks("braintree", redis=redis) for redis in two_connections)
    holders: list[str] = []
    overlaps: list[list[str]] = []
    order: list[str] = []

    async def work(locks: KeyedLocks, name: str) -> None:
        async with locks.hold("subscriptions:sub_1"):
            holders.append(name)
            if len(holders) > 1:
                overlaps.append(list(holders))
            order.append(name)
            for _ in range(3):
                await asyncio.sleep(0)  # give the other process every chance to cut in
            holders.remove(name)

    async with bounded():
        await asyncio.gather(*(work(locks, f"{i}") for i in range(6) for locks in (a, b)))
    assert overlaps == []
    assert len(order) == 12
    # Released after use: nothing left behind in Redis.
    assert await two_connections[0].keys("attio-bridge:lock:*") == []


async def test_different_keys_do_not_wait_for_each_other(
    two_connections: tuple[Redis, Redis],
) -> None:
    a, b = (KeyedLocks("braintree", redis=redis) for redis in two_connections)
    async with bounded(), a.hold("subscriptions:sub_1"), b.hold("subscriptions:sub_2"):
        pass


async def test_expiry_frees_the_lock_of_a_dead_holder(two_connections: tuple[Redis, Redis]) -> None:
    first, second = two_connections
    dead = RedisLocks(first, "lock:braintree", ttl_seconds=0.05)
    assert await dead.take("subscriptions:sub_1") is not None  # taken, never released
    alive = KeyedLocks("braintree", redis=second)
    async with bounded(), alive.hold("subscriptions:sub_1"):
        assert await second.get("attio-bridge:lock:braintree:subscriptions:sub_1") is not None


async def test_release_never_frees_someone_elses_lock(two_connections: tuple[Redis, Redis]) -> None:
    first, second = two_connections
    old = RedisLocks(first, "sync", ttl_seconds=0.05)
    new = RedisLocks(second, "sync")
    stale_token = await old.take("zoho")
    assert stale_token is not None
    # The old holder stalls past its ttl; its lock expires.
    async with bounded():
        fresh_token = await new.acquire("zoho")
    assert fresh_token is not None
    assert await old.release("zoho", stale_token) is False
    assert await second.get("attio-bridge:sync:zoho") == fresh_token.encode()
    assert await new.release("zoho", fresh_token) is True


async def test_a_held_lock_is_renewed_while_the_work_lasts(
    two_connections: tuple[Redis, Redis],
) -> None:
    first, second = two_connections
    locks = RedisLocks(first, "sync", ttl_seconds=0.9)
    other = RedisLocks(second, "sync")
    async with bounded():
        async with locks.try_hold("zoho") as mine:
            assert mine
            await asyncio.sleep(2.0)  # more than twice the ttl
            async with other.try_hold("zoho") as theirs:
                assert not theirs  # one sync run at a time per source
        async with other.try_hold("zoho") as theirs:
            assert theirs


async def test_unreachable_redis_leaves_the_process_lock() -> None:
    redis = connect(f"redis://127.0.0.1:{free_port()}/0")
    locks = KeyedLocks("braintree", redis=redis)
    try:
        with structlog.testing.capture_logs() as logs:
            async with bounded():
                async with locks.hold("k"):
                    pass
                async with locks.hold("k"):
                    pass
        warnings = [e for e in logs if e["event"] == "lock.redis_unreachable"]
        assert len(warnings) == 1
    finally:
        await redis.aclose()
