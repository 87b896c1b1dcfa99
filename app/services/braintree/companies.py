"""Company summaries: the sum over the people Attio links to a company, written coalesced.

A company is recomputed from its people's records (`PersonSummary.from_record`), so it needs no
Braintree read: one query for its people, one read of the company, and a write only when a
value differs. During a burst (a billing run charging many people of one company) a company is
recomputed at most once per `delay` seconds: the first change schedules the recompute, later
ones before it runs join it, and it reads the people when it runs, so it sees them all.

Across processes (queue mode) a Redis key per company (`attio-bridge:braintree:company-due:<id>`)
says a recompute is already due somewhere, so only one process schedules it. The key is removed
just before the people are read, so a change after that schedules another recompute and none is
lost. A process that stops flushes what it has scheduled (`aclose`); a recompute lost anyway (a
crash) is healed by the next `sync braintree`, which recomputes every company.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from datetime import UTC, datetime

from app.clients.attio import AttioClient
from app.clients.attio.values import Record, Values
from app.clients.redis import Redis, RedisError
from app.log import get_logger
from app.schema.definitions import COMPANIES, COMPANIES_OBJECT, PEOPLE
from app.services.braintree.summary import PersonSummary, changed_values, summarize_company

log = get_logger(__name__)

DEFAULT_DELAY = 3.0
_KEY = "attio-bridge:braintree:company-due:"


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


class CompanyRollup:
    """Schedules company recomputes; `delay=0` recomputes at once (tests, the CLI)."""

    def __init__(
        self, attio: AttioClient, *, delay: float = DEFAULT_DELAY, redis: Redis | None = None
    ) -> None:
        self._attio = attio
        self.delay = delay
        self._redis = redis
        self._due: dict[str, asyncio.Task[None]] = {}  # waiting out the delay
        self._running: set[asyncio.Task[None]] = set()  # past it, recomputing
        self.writes = 0

    async def changed(self, *company_ids: str | None) -> None:
        """A person of these companies changed (None: no company); each is recomputed."""
        for company_id in dict.fromkeys(c for c in company_ids if c):
            if self.delay <= 0:
                await self.recompute(company_id)
            elif company_id not in self._due and await self._claim(company_id):
                self._due[company_id] = asyncio.create_task(self._later(company_id))

    async def _claim(self, company_id: str) -> bool:
        if self._redis is None:
            return True
        try:
            ttl = int(self.delay * 2) + 30  # a crashed process's claim lapses soon after
            return bool(await self._redis.set(_KEY + company_id, "1", nx=True, ex=ttl))
        except (RedisError, OSError) as exc:
            log.warning("braintree.company.redis_unreachable", error=type(exc).__name__)
            return True

    async def _release(self, company_id: str) -> None:
        if self._redis is None:
            return
        with contextlib.suppress(RedisError, OSError):  # else the key expires on its own
            await self._redis.delete(_KEY + company_id)

    async def _later(self, company_id: str) -> None:
        await asyncio.sleep(self.delay)
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
        await self._release(company_id)  # a change from here on schedules another recompute
        _company, changes = await company_changes(self._attio, company_id)
        if not changes:
            return False
        await self._attio.update_record(COMPANIES, company_id, changes)
        self.writes += 1
        log.info("braintree.company.written", company_id=company_id, changed=sorted(changes))
        return True

    async def flush(self) -> None:
        """Run every scheduled recompute now (at shutdown: the final write is never lost)."""
        due, self._due = self._due, {}
        for task in due.values():
            task.cancel()
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
        for company_id in due:
            await self._guarded(company_id)

    async def aclose(self) -> None:
        await self.flush()
