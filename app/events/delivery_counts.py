"""How many deliveries arrived and how their events ended, per hour, source and outcome.

What the console's chart draws and where its "last verified delivery" comes from. With
REDIS_URL the counts live in Redis (one hash per hour, kept 25 h), so the web service and the
workers add to the same numbers; otherwise this process counts since it started. Recording
never waits for Redis and never fails a delivery: the Redis write runs in the background and a
failed one is only logged (the process's own counts are kept either way).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from app.clients.redis import Redis, RedisError
from app.events.model import Outcome, Source
from app.log import get_logger

log = get_logger(__name__)

KEY_PREFIX = "attio-bridge:deliveries:"
LAST_VERIFIED_KEY = KEY_PREFIX + "last-verified"
HOUR_SECONDS = 3600
KEEP_SECONDS = 25 * HOUR_SECONDS
WINDOW_HOURS = 24


class DeliveryOutcome(StrEnum):
    verified = "verified"  # a delivery whose signature checked out (counted per delivery)
    processed = "processed"  # per event from here on
    ignored = "ignored"
    failed = "failed"  # the event went to the ledger


_FROM_OUTCOME = {
    Outcome.processed: DeliveryOutcome.processed,
    Outcome.ignored: DeliveryOutcome.ignored,
    Outcome.recorded: DeliveryOutcome.failed,
}


@dataclass(frozen=True)
class HourCounts:
    hour: datetime  # the hour's start (UTC)
    counts: dict[tuple[Source, DeliveryOutcome], int] = field(default_factory=dict)

    def count(self, source: Source, outcome: DeliveryOutcome) -> int:
        return self.counts.get((source, outcome), 0)


@dataclass(frozen=True)
class DeliveryHistory:
    hours: list[HourCounts]  # oldest first, WINDOW_HOURS of them, the current hour last
    last_verified: dict[Source, datetime]
    origin: str  # "redis" or "process"
    since: datetime  # the start of what is counted (this process's start without Redis)


def _hour_of(epoch: float) -> int:
    return int(epoch // HOUR_SECONDS) * HOUR_SECONDS


def _field(source: Source, outcome: DeliveryOutcome) -> str:
    return f"{source.value}:{outcome.value}"


def _parse_field(name: str) -> tuple[Source, DeliveryOutcome] | None:
    source, _, outcome = name.partition(":")
    try:
        return Source(source), DeliveryOutcome(outcome)
    except ValueError:
        return None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class DeliveryRecorder:
    def __init__(self) -> None:
        self._started = time.time()
        self._hours: dict[int, Counter[str]] = {}
        self._last_verified: dict[Source, float] = {}
        self._redis: Redis | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def use_redis(self, redis: Redis | None) -> Redis | None:
        """Count in Redis from now on (None: in this process only); returns the previous one."""
        previous, self._redis = self._redis, redis
        return previous

    @property
    def origin(self) -> str:
        return "redis" if self._redis is not None else "process"

    # -- recording (hot path: no awaiting) ---------------------------------------------------

    def verified(self, source: Source) -> None:
        """A delivery from `source` passed its signature check."""
        now = time.time()
        self._last_verified[source] = now
        self._add(source, DeliveryOutcome.verified, now)

    def outcome(self, source: Source, outcome: Outcome) -> Outcome:
        """How one event ended; returns `outcome` so a caller can record and return at once."""
        self._add(source, _FROM_OUTCOME[outcome], time.time())
        return outcome

    def _add(self, source: Source, outcome: DeliveryOutcome, now: float) -> None:
        hour = _hour_of(now)
        self._hours.setdefault(hour, Counter())[_field(source, outcome)] += 1
        for old in [h for h in self._hours if h < hour - KEEP_SECONDS]:
            del self._hours[old]
        if self._redis is None:
            return
        try:
            task = asyncio.get_running_loop().create_task(
                self._write(self._redis, hour, source, outcome, now)
            )
        except RuntimeError:
            return  # no event loop (a synchronous caller): this process's counts only
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _write(
        self, redis: Redis, hour: int, source: Source, outcome: DeliveryOutcome, now: float
    ) -> None:
        key = f"{KEY_PREFIX}{hour}"
        try:
            async with redis.pipeline(transaction=False) as pipe:
                pipe.hincrby(key, _field(source, outcome), 1)
                pipe.expire(key, KEEP_SECONDS)
                if outcome is DeliveryOutcome.verified:
                    pipe.hset(LAST_VERIFIED_KEY, source.value, f"{now:.3f}")
                await pipe.execute()
        except Exception as exc:  # counting must never disturb a delivery, whatever went wrong
            log.warning("deliveries.redis_write_failed", error=f"{type(exc).__name__}: {exc}")

    # -- reading -----------------------------------------------------------------------------

    async def history(self) -> DeliveryHistory:
        """The last WINDOW_HOURS hours, from Redis when configured (this process's counts if
        Redis cannot be read)."""
        now = time.time()
        hours = [_hour_of(now) - HOUR_SECONDS * back for back in range(WINDOW_HOURS - 1, -1, -1)]
        if self._redis is not None:
            try:
                return await self._from_redis(self._redis, hours)
            except (RedisError, OSError, RuntimeError) as exc:
                log.warning("deliveries.redis_read_failed", error=f"{type(exc).__name__}: {exc}")
        return DeliveryHistory(
            hours=[self._counts(hour, self._hours.get(hour, Counter())) for hour in hours],
            last_verified={s: _utc(at) for s, at in self._last_verified.items()},
            origin="process",
            since=_utc(self._started),
        )

    async def _from_redis(self, redis: Redis, hours: list[int]) -> DeliveryHistory:
        async with redis.pipeline(transaction=False) as pipe:
            for hour in hours:
                pipe.hgetall(f"{KEY_PREFIX}{hour}")
            pipe.hgetall(LAST_VERIFIED_KEY)
            *buckets, verified = await pipe.execute()
        counted = [
            self._counts(hour, Counter({_text(k): int(v) for k, v in bucket.items()}))
            for hour, bucket in zip(hours, buckets, strict=True)
        ]
        last: dict[Source, datetime] = {}
        for name, at in verified.items():
            try:
                last[Source(_text(name))] = _utc(float(at))
            except ValueError:
                continue
        return DeliveryHistory(counted, last, origin="redis", since=_utc(hours[0]))

    @staticmethod
    def _counts(hour: int, counter: Counter[str]) -> HourCounts:
        counts: dict[tuple[Source, DeliveryOutcome], int] = {}
        for name, value in counter.items():
            parsed = _parse_field(name)
            if parsed is not None:
                counts[parsed] = value
        return HourCounts(hour=_utc(hour), counts=counts)

    async def drain(self) -> None:
        """Wait for the Redis writes under way (tests, shutdown)."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


# One per process, like the Prometheus metrics: the intake, the processor and the console share it.
DELIVERIES = DeliveryRecorder()
