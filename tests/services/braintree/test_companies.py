"""Company recomputes coalesce: one write per company per delay, across processes through a
real redis-server, and nothing scheduled is lost at shutdown."""

from __future__ import annotations

import asyncio
from typing import Any

from app.clients.redis import Redis
from app.services.braintree.companies import CompanyRollup


class CountingRollup(CompanyRollup):
    """Counts the recomputes instead of reading and writing Attio."""

    def __init__(self, **options: Any) -> None:
        super().__init__(None, **options)  # type: ignore[arg-type]
        self.recomputed: list[str] = []
        self.ran = asyncio.Event()

    async def recompute(self, company_id: str) -> bool:
        await self._release(company_id)
        self.recomputed.append(company_id)
        self.ran.set()
        return True


async def until(done: Any, *rollups: CountingRollup) -> None:
    """Wait (bounded) for the scheduled recomputes: the test asserts what ran, not when."""
    async with asyncio.timeout(10):
        while not done():
            waits = [asyncio.ensure_future(r.ran.wait()) for r in rollups]
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for rollup, wait in zip(rollups, waits, strict=True):
                wait.cancel()
                rollup.ran.clear()


async def test_a_burst_recomputes_each_company_once_after_the_delay() -> None:
    rollup = CountingRollup(delay=0.05)
    for _ in range(20):
        await rollup.changed("acme", None, "globex")
    assert rollup.recomputed == []
    await until(lambda: len(rollup.recomputed) == 2, rollup)
    assert sorted(rollup.recomputed) == ["acme", "globex"]
    await rollup.changed("acme")  # a change after the recompute schedules another
    await until(lambda: len(rollup.recomputed) == 3, rollup)
    assert rollup.recomputed.count("acme") == 2


async def test_shutdown_runs_what_is_scheduled() -> None:
    rollup = CountingRollup(delay=60)
    await rollup.changed("acme", "globex")
    await rollup.aclose()
    assert sorted(rollup.recomputed) == ["acme", "globex"]


async def test_two_processes_schedule_a_company_once(two_connections: tuple[Redis, Redis]) -> None:
    a, b = (CountingRollup(redis=redis) for redis in two_connections)
    a.delay = b.delay = 0.5  # longer than the burst below takes
    for _ in range(5):
        await a.changed("acme")
        await b.changed("acme")
    await until(lambda: len(a.recomputed) + len(b.recomputed) >= 1, a, b)
    await a.aclose()
    await b.aclose()
    assert len(a.recomputed) + len(b.recomputed) == 1
    # The key went with the recompute: the next change is scheduled again.
    await b.changed("acme")
    await until(lambda: len(a.recomputed) + len(b.recomputed) == 2, a, b)


async def test_without_a_delay_the_recompute_is_immediate() -> None:
    rollup = CountingRollup(delay=0)
    await rollup.changed("acme", "acme", None)
    assert rollup.recomputed == ["acme"]
