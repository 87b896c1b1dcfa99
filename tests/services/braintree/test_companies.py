"""Company recomputes coalesce: one write per company per delay, across processes through a
real redis-server, and nothing scheduled is lost at shutdown."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from app.clients.redis import Redis
from app.services.braintree import companies
from app.services.braintree.companies import CompanyRollup


class CountingRollup(CompanyRollup):
    """Counts the recomputes instead of reading and writing Attio."""

    def __init__(self, **options: Any) -> None:
        super().__init__(None, **options)  # type: ignore[arg-type]
        self.recomputed: list[str] = []
        self.ran = asyncio.Event()
        self.during: Any = None  # called inside the next recompute (a change meanwhile)
        self.events_waiting_now = False
        self.asked = 0  # how often it asked whether events wait

    async def busy(self) -> bool:
        self.asked += 1
        return self.events_waiting_now

    async def recompute(self, company_id: str) -> bool:
        if self.during is not None:
            during, self.during = self.during, None
            await during()
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


@pytest.fixture
def due_key(request: pytest.FixtureRequest) -> str:
    return f"test:companies-due:{request.node.name}"


def shared(redis: Redis, key: str, *, delay: float = 0.3) -> CountingRollup:
    return CountingRollup(redis=redis, key=key, delay=delay)


async def test_two_processes_recompute_a_company_once(
    two_connections: tuple[Redis, Redis], due_key: str
) -> None:
    a, b = (shared(redis, due_key, delay=0.5) for redis in two_connections)
    for _ in range(5):  # a burst, through both processes
        await a.changed("acme")
        await b.changed("acme")
    a.start()
    b.start()
    await until(lambda: len(a.recomputed) + len(b.recomputed) >= 1, a, b)
    await asyncio.sleep(0.5)  # two pollers' passes: neither takes it again
    assert len(a.recomputed) + len(b.recomputed) == 1
    # Done and removed: the next change is scheduled again.
    await b.changed("acme")
    await until(lambda: len(a.recomputed) + len(b.recomputed) == 2, a, b)
    await a.aclose()
    await b.aclose()


async def test_what_a_dead_process_scheduled_is_run_by_another(
    two_connections: tuple[Redis, Redis], due_key: str
) -> None:
    dead, alive = (shared(redis, due_key) for redis in two_connections)
    await dead.changed("acme", "globex")  # and is killed: its poller never runs
    alive.start()
    await until(lambda: len(alive.recomputed) == 2, alive)
    assert sorted(alive.recomputed) == ["acme", "globex"] and dead.recomputed == []
    await alive.aclose()


async def test_a_change_during_the_recompute_schedules_another(
    two_connections: tuple[Redis, Redis], due_key: str
) -> None:
    rollup = shared(two_connections[0], due_key)
    other = shared(two_connections[1], due_key)
    rollup.during = lambda: other.changed("acme")  # another process, mid-recompute
    await rollup.changed("acme")
    rollup.start()
    await until(lambda: len(rollup.recomputed) == 2, rollup)
    await rollup.aclose()


async def test_a_lease_that_runs_out_is_taken_over(
    two_connections: tuple[Redis, Redis], due_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(companies, "LEASE_SECONDS", 0.2)
    crashed, alive = (shared(redis, due_key, delay=0.05) for redis in two_connections)
    await crashed.changed("acme")
    await asyncio.sleep(0.1)

    async def hang(_company_id: str) -> bool:  # the process dies mid-recompute
        await asyncio.Event().wait()
        return False

    crashed.recompute = hang  # type: ignore[method-assign]
    taking = asyncio.create_task(crashed.run_due())
    await asyncio.sleep(0.05)
    assert await alive.run_due() == 0  # leased: not taken twice
    taking.cancel()
    await asyncio.sleep(0.25)  # the lease runs out
    assert await alive.run_due() == 1 and alive.recomputed == ["acme"]
    assert await alive.run_due() == 0  # done: removed


async def test_without_redis_a_change_is_scheduled_in_the_process(due_key: str) -> None:
    rollup = CountingRollup(delay=0.05)
    await rollup.changed("acme")
    await until(lambda: rollup.recomputed == ["acme"], rollup)


async def test_without_a_delay_the_recompute_is_immediate() -> None:
    rollup = CountingRollup(delay=0)
    await rollup.changed("acme", "acme", None)
    assert rollup.recomputed == ["acme"]


@pytest.mark.parametrize("redis", [True, False], ids=["shared", "in-process"])
async def test_a_due_company_waits_while_the_write_budget_is_busy(
    two_connections: tuple[Redis, Redis],
    due_key: str,
    monkeypatch: pytest.MonkeyPatch,
    redis: bool,
) -> None:
    monkeypatch.setattr(companies, "MAX_DEFER_SECONDS", 5.0)
    rollup = CountingRollup(delay=0.05, redis=two_connections[0] if redis else None, key=due_key)
    rollup.events_waiting_now = True  # a burst of events is being written
    await rollup.changed("acme")
    rollup.start()
    await asyncio.sleep(0.5)
    assert rollup.recomputed == []  # due, but waiting for the burst to pass
    rollup.events_waiting_now = False
    await until(lambda: rollup.recomputed == ["acme"], rollup)
    await rollup.aclose()


async def test_a_busy_budget_defers_a_company_a_bounded_time(
    two_connections: tuple[Redis, Redis], due_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(companies, "MAX_DEFER_SECONDS", 0.3)
    rollup = shared(two_connections[0], due_key, delay=0.05)
    rollup.events_waiting_now = True  # and it stays busy
    await rollup.changed("acme")
    rollup.start()
    await until(lambda: rollup.recomputed == ["acme"], rollup)
    await rollup.aclose()


async def test_a_poll_with_nothing_due_does_not_ask_whether_events_wait(
    two_connections: tuple[Redis, Redis], due_key: str
) -> None:
    rollup = shared(two_connections[0], due_key, delay=60)
    await rollup.changed("acme")  # scheduled, not due for a minute
    assert await rollup.run_due() == 0
    assert rollup.asked == 0
    await rollup.aclose()
