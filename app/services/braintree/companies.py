"""Company summaries: the sum over the people Attio links to a company, written coalesced.

A company is recomputed from its people's records (`PersonSummary.from_record`), so it needs no
Braintree read: one query for its people, one read of the company, and a write only when a
value differs. During a burst (a billing run charging many people of one company) a company is
recomputed at most once per `delay` seconds: the first change schedules the recompute, later
ones before it runs join it, and it reads the people when it runs, so it sees them all.

Where the schedule lives:
- Without Redis, in this process (a timer per company); a process that stops runs what it has
  scheduled (`aclose`).
- With Redis (queue mode: web instances and workers), in one sorted set shared by every process
  (`attio-bridge:braintree:companies-due`, company id -> when it is due), so a process that dies
  loses nothing it scheduled: any process's poller runs it when due. A poller takes a due
  company by moving its score a lease ahead (20 s); after the recompute it removes the company
  only if the score is still its lease. A change meanwhile moves the score back to `delay` from
  now (`ZADD LT`), so it is recomputed again; a process that dies mid-recompute leaves the lease
  to run out, and another takes it over.
A recompute lost anyway (Redis itself lost) is healed by the next `sync braintree`, which
recomputes every company.

Company sums are wanted once a burst is over, not mid-way: while webhook events wait to be
processed (`events_waiting`: the queue's backlog in queue mode), a due company waits, up to a
minute, so a billing run writes each company about once, after the events' own writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime

from app.clients.attio import AttioClient
from app.clients.attio.values import Record, Values
from app.clients.redis import Redis, RedisError
from app.errors import is_permanent
from app.log import get_logger
from app.schema.definitions import COMPANIES, COMPANIES_OBJECT, PEOPLE
from app.services.braintree.summary import PersonSummary, changed_values, summarize_company

log = get_logger(__name__)

DEFAULT_DELAY = 3.0
DUE_KEY = "attio-bridge:braintree:companies-due"
LEASE_SECONDS = 20.0
_BATCH = 10  # companies a poller takes at once
# While webhook events wait to be processed, a due company waits too, up to this long: its sums
# are wanted once the burst is over, not mid-way, and the events' writes come first.
MAX_DEFER_SECONDS = 60.0
STOP_SECONDS = 5.0  # a poller's pass under way may finish at shutdown

# Whether webhook events are waiting (the bridge's queue backlog, or deliveries in flight).
EventsWaiting = Callable[[], Awaitable[bool]]

# Take the due companies (score <= now) and lease them: their score moves to the lease's end.
_TAKE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
for _, company in ipairs(due) do
  redis.call('ZADD', KEYS[1], ARGV[2], company)
end
return due
"""
# Done: remove the company unless a change moved its score off the lease meanwhile.
_DONE = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) == tonumber(ARGV[2]) then
  return redis.call('ZREM', KEYS[1], ARGV[1])
end
return 0
"""


def people_of(company_id: str) -> dict[str, object]:
    """Attio's filter for the Braintree customers linked to a company (a colleague who never
    paid has no summary, and must not make the company's sums unknown)."""
    return {
        "company": {"target_object": COMPANIES, "target_record_id": company_id},
        "braintree_customer_id": {"$not_empty": True},
    }


async def company_changes(
    attio: AttioClient, company_id: str, *, people: Iterable[PersonSummary] | None = None
) -> tuple[Record, Values]:
    """The company record and what its summary changes on it (nothing: no write); `people`
    are its people's summaries (None: read from their records)."""
    if people is None:
        records = attio.iter_records(PEOPLE, filter=people_of(company_id))
        people = [PersonSummary.from_record(r) async for r in records]
    summary = summarize_company(people)
    company = await attio.get_record(COMPANIES, company_id)
    values = summary.attio_values(updated_at=datetime.now(UTC))
    return company, changed_values(COMPANIES_OBJECT, company, values)


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


class CompanyRollup:
    """Schedules company recomputes; `delay=0` recomputes at once (tests, the CLI)."""

    def __init__(
        self,
        attio: AttioClient,
        *,
        delay: float = DEFAULT_DELAY,
        redis: Redis | None = None,
        key: str = DUE_KEY,
        events_waiting: EventsWaiting | None = None,
    ) -> None:
        self._attio = attio
        self.delay = delay
        self._redis = redis
        self._key = key
        self._events_waiting = events_waiting
        self._due: dict[str, asyncio.Task[None]] = {}  # this process's, waiting out the delay
        self._running: set[asyncio.Task[None]] = set()  # past it, recomputing
        self._poller: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        if redis is not None:
            self._take = redis.register_script(_TAKE)
            self._done = redis.register_script(_DONE)

    async def changed(self, *company_ids: str | None) -> None:
        """A person of these companies changed (None: no company); each is recomputed."""
        for company_id in dict.fromkeys(c for c in company_ids if c):
            if self.delay <= 0:
                await self.recompute(company_id)
            elif not await self._share(company_id) and company_id not in self._due:
                self._due[company_id] = asyncio.create_task(self._later(company_id))

    # -- the shared schedule (Redis) ---------------------------------------------------------

    async def _share(self, company_id: str) -> bool:
        """Put the company on the shared schedule; False without Redis (or Redis away)."""
        if self._redis is None:
            return False
        due = _ms(time.time() + self.delay)
        try:
            # LT: an earlier due time stays; a lease (a recompute under way) is cut short.
            await self._redis.zadd(self._key, {company_id: due}, lt=True)
        except (RedisError, OSError) as exc:
            log.warning("braintree.company.redis_unreachable", error=type(exc).__name__)
            return False
        return True

    def start(self) -> None:
        """Run the shared schedule's due recomputes in this process (web service, worker)."""
        if self._redis is not None and self.delay > 0 and self._poller is None:
            self._poller = asyncio.create_task(self._poll())

    async def _poll(self) -> None:
        every, away = min(1.0, self.delay / 3), False
        while not self._stopping.is_set():
            try:
                await self.run_due()
                away = False
            except (RedisError, OSError) as exc:
                if not away:  # said once per outage, not every poll
                    log.warning("braintree.company.redis_unreachable", error=type(exc).__name__)
                away = True
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(every):
                    await self._stopping.wait()

    async def busy(self) -> bool:
        """Whether webhook events are waiting to be processed (a burst is being written)."""
        if self._events_waiting is None:
            return False
        try:
            return await self._events_waiting()
        except Exception as exc:  # no answer: not busy, the recompute goes ahead
            log.debug("braintree.company.backlog_unknown", error=repr(exc))
            return False

    async def run_due(self) -> int:
        """Recompute the companies due on the shared schedule now (while events wait, only
        those overdue by MAX_DEFER_SECONDS); returns how many."""
        assert self._redis is not None
        now = time.time()
        if not await self._redis.zcount(self._key, "-inf", _ms(now)):
            return 0  # nothing due (the usual poll): no need to ask whether events wait
        cutoff = now - MAX_DEFER_SECONDS if await self.busy() else now
        lease = _ms(now + LEASE_SECONDS)
        taken = await self._take(keys=[self._key], args=[_ms(cutoff), lease, _BATCH])
        companies = [c.decode() if isinstance(c, bytes) else str(c) for c in taken]
        await asyncio.gather(*(self._run_leased(c, lease) for c in companies))
        return len(companies)

    async def _run_leased(self, company_id: str, lease: int) -> None:
        try:
            await self.recompute(company_id)
        except Exception as exc:
            if not is_permanent(exc):  # the lease runs out and it is taken again
                log.warning("braintree.company.failed", company_id=company_id, error=repr(exc))
                return
            log.warning("braintree.company.dropped", company_id=company_id, error=repr(exc))
        assert self._redis is not None
        with contextlib.suppress(RedisError, OSError):  # else the lease runs out: once more
            await self._done(keys=[self._key], args=[company_id, lease])

    # -- this process's schedule -------------------------------------------------------------

    async def _later(self, company_id: str) -> None:
        await asyncio.sleep(self.delay)
        deferred = 0.0
        while deferred < MAX_DEFER_SECONDS and await self.busy():
            await asyncio.sleep(1.0)
            deferred += 1.0
        task = self._due.pop(company_id, None)
        if task is not None:
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        await self._guarded(company_id)

    async def _guarded(self, company_id: str) -> None:
        try:
            await self.recompute(company_id)
        except Exception as exc:  # a background task: the next change or the sync heals it
            log.warning("braintree.company.failed", company_id=company_id, error=repr(exc))

    async def recompute(self, company_id: str) -> bool:
        """Recompute one company now; True when it was written."""
        _company, changes = await company_changes(self._attio, company_id)
        if not changes:
            return False
        await self._attio.update_record(COMPANIES, company_id, changes)
        log.info("braintree.company.written", company_id=company_id, changed=sorted(changes))
        return True

    async def flush(self) -> None:
        """Run what this process scheduled now (at shutdown: the final write is never lost);
        the shared schedule stays for the other processes, or this one's next start."""
        if self._poller is not None:
            # Stopped between passes: a Redis call cancelled mid-way can leave its connection
            # hanging; a pass that overruns is cancelled, and its lease runs out.
            self._stopping.set()
            try:
                async with asyncio.timeout(STOP_SECONDS):
                    await self._poller
            except TimeoutError:
                self._poller.cancel()
            self._poller = None
        due, self._due = self._due, {}
        for task in due.values():
            task.cancel()
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
        for company_id in due:
            await self._guarded(company_id)

    async def aclose(self) -> None:
        await self.flush()
