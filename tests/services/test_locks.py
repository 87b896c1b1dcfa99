"""Per-record locks: one key at a time, forgotten when free, waits reported as such."""

from __future__ import annotations

import asyncio

from app.services.locks import KeyedLocks
from app.timing import RequestTiming, current_timing


async def test_keyed_locks_serialise_one_key_and_forget_it() -> None:
    locks = KeyedLocks()
    order: list[str] = []

    async def work(key: str, name: str, pause: float) -> None:
        async with locks.hold(key):
            order.append(f"{name}+")
            await asyncio.sleep(pause)
            order.append(f"{name}-")

    await asyncio.gather(work("a", "first", 0.02), work("a", "second", 0), work("b", "other", 0))
    assert order.index("first-") < order.index("second+")
    assert order.index("other+") < order.index("first-")  # other keys do not wait
    assert len(locks) == 0


async def test_keyed_lock_is_released_on_cancel() -> None:
    locks = KeyedLocks()

    async def hold_forever() -> None:
        async with locks.hold("a"):
            await asyncio.sleep(10)

    holder = asyncio.create_task(hold_forever())
    await asyncio.sleep(0)
    holder.cancel()
    await asyncio.gather(holder, return_exceptions=True)
    async with asyncio.timeout(1), locks.hold("a"):
        pass
    assert len(locks) == 0


async def test_waiting_for_a_record_lock_is_reported_as_a_wait() -> None:
    locks = KeyedLocks()
    release = asyncio.Event()

    async def holder() -> None:
        async with locks.hold("a"):
            await release.wait()

    async def waiter() -> RequestTiming:
        timing = RequestTiming()
        current_timing.set(timing)  # this task's own context, as a request would have
        async with locks.hold("a"):
            return timing

    held = asyncio.create_task(holder())
    await asyncio.sleep(0)
    waiting = asyncio.create_task(waiter())
    await asyncio.sleep(0.02)
    release.set()
    timing = await waiting
    await held
    assert timing.waits["record-lock"] > 0  # it waited for the holder, not for its own work
