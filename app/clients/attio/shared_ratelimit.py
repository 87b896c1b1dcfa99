"""One Attio budget for every process that holds the same REDIS_URL.

Attio's limits are per workspace, so web instances, workers, cron jobs and the CLI take their
starts from one bucket in Redis. The algorithm is GCRA with a burst of one, which is exactly the
in-process limiter's evenly spaced starts: the bucket keeps the theoretical arrival time (TAT) of
the next start; each caller reserves the slot at max(TAT, now), advances TAT by one interval and
sleeps until its slot. Time is Redis's (TIME inside the script), so process clocks never matter.

A 429 sets a shared pause key (PX, never shortened) that every reservation honours, so one
process's Retry-After holds back all of them. If Redis cannot be reached, the process falls back
to its in-process limiter (logged once per transition) and tries Redis again after a short
while: an Attio call never fails because Redis is down.

While it falls back, a process spends only its share of the rate, so that the processes that
all lost Redis at once do not each spend the whole workspace budget: each reservation also
registers its limiter in a set of the bucket's spenders (those that reserved within the last
SPENDER_WINDOW_SECONDS), and the share is the rate divided by the count it last saw. A process
that never reached Redis assumes UNSEEN_SPENDERS processes (a web instance and a worker).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable

from app.clients.attio.ratelimit import RateLimiter
from app.clients.redis import Redis, RedisError
from app.log import get_logger
from app.metrics import ATTIO_LIMITER_WAIT

log = get_logger(__name__)

KEY_PREFIX = "attio-bridge:ratelimit:"

# KEYS[1]: the bucket's TAT (server microseconds); KEYS[2]: the shared pause key; KEYS[3]: the
# bucket's spenders (a sorted set: limiter id -> its last reservation). ARGV[1]: interval in
# microseconds; ARGV[2]: this limiter's id; ARGV[3]: the spender window in microseconds.
# Returns {wait, start, spenders}: the microseconds before the reserved start, that start in
# server time, and how many limiters reserved within the window.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local start = now
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat and tat > start then start = tat end
local pause = redis.call('PTTL', KEYS[2])
if pause > 0 and now + pause * 1000 > start then start = now + pause * 1000 end
local ttl = math.floor((start + interval - now) / 1000) + 1000
redis.call('SET', KEYS[1], start + interval, 'PX', ttl)
local window = tonumber(ARGV[3])
redis.call('ZADD', KEYS[3], now, ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - window)
redis.call('PEXPIRE', KEYS[3], math.floor(window / 1000))
return {start - now, start, redis.call('ZCARD', KEYS[3])}
"""

# KEYS[1]: the pause key; ARGV[1]: milliseconds. Max semantics: a shorter pause never cuts a
# longer one short.
_PAUSE = """
local ms = tonumber(ARGV[1])
if redis.call('PTTL', KEYS[1]) < ms then
  redis.call('SET', KEYS[1], '1', 'PX', ms)
end
return 1
"""

# Seconds before a process that found Redis unreachable asks it again (a restart is over in a
# second or two; until then the process spends only its share).
RETRY_REDIS_AFTER_SECONDS = 2.0
# A limiter that reserved within this many seconds counts as spending the bucket.
SPENDER_WINDOW_SECONDS = 60.0
# The spenders a process assumes when it never reached Redis.
UNSEEN_SPENDERS = 2


class SharedRateLimiter:
    """The in-process limiter's interface (`acquire()`, `pause()`) on a bucket in Redis.

    `bucket` names the budget (`writes`, `reads`); every limiter on the same Redis and bucket
    shares it. `fallback` is the in-process limiter used while Redis is unreachable.
    """

    def __init__(
        self,
        redis: Redis,
        bucket: str,
        rate: float,
        *,
        fallback: RateLimiter | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.interval = 1.0 / rate
        self.bucket = bucket
        self.fallback = fallback or RateLimiter(rate)
        self._redis = redis
        self._tat_key = f"{KEY_PREFIX}{bucket}"
        self._pause_key = f"{KEY_PREFIX}{bucket}:pause"
        self._spenders_key = f"{KEY_PREFIX}{bucket}:spenders"
        self._id = uuid.uuid4().hex
        # Limiters spending this bucket, as last seen in Redis (this one included).
        self.spenders = UNSEEN_SPENDERS
        self._reserve = redis.register_script(_RESERVE)
        self._set_pause = redis.register_script(_PAUSE)
        self._sleep = sleep
        self._clock = clock
        self._down_since: float | None = None
        self._pending: set[asyncio.Task[None]] = set()
        # This process's callers inside acquire().
        self.waiting = 0

    @property
    def shared(self) -> bool:
        """False while this process uses its in-process fallback."""
        return self._down_since is None

    async def acquire(self) -> None:
        started = time.perf_counter()
        self.waiting += 1
        try:
            await self._acquire()
        finally:
            self.waiting -= 1
        ATTIO_LIMITER_WAIT.labels(self.bucket).observe(time.perf_counter() - started)

    async def _acquire(self) -> None:
        if not self._redis_usable():
            await self.fallback.acquire()
            return
        try:
            while True:
                wait, _start = await self.reserve()
                if wait > 0:
                    await self._sleep(wait)
                # A pause set while this caller slept (another process's 429) beats its slot.
                if int(await self._redis.pttl(self._pause_key)) <= 0:
                    break
        except (RedisError, OSError) as exc:
            self._went_down(exc)
            await self.fallback.acquire()
            return
        self._came_back()

    async def reserve(self) -> tuple[float, float]:
        """Reserve the next start: (seconds to wait for it, the start in Redis's clock)."""
        interval_us = max(1, round(self.interval * 1_000_000))
        window_us = round(SPENDER_WINDOW_SECONDS * 1_000_000)
        wait_us, start_us, spenders = await self._reserve(
            keys=[self._tat_key, self._pause_key, self._spenders_key],
            args=[interval_us, self._id, window_us],
        )
        self.spenders = max(1, int(spenders))
        return int(wait_us) / 1_000_000, int(start_us) / 1_000_000

    def pause(self, seconds: float) -> None:
        """Hold back every process on this bucket for `seconds` (a 429's Retry-After)."""
        self.fallback.pause(seconds)
        if not self._redis_usable():
            return
        task = asyncio.get_running_loop().create_task(self._pause_shared(seconds))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _pause_shared(self, seconds: float) -> None:
        try:
            await self._set_pause(keys=[self._pause_key], args=[max(1, round(seconds * 1000))])
        except (RedisError, OSError) as exc:
            self._went_down(exc)

    def _redis_usable(self) -> bool:
        if self._down_since is None:
            return True
        return self._clock() - self._down_since >= RETRY_REDIS_AFTER_SECONDS

    def _went_down(self, error: BaseException) -> None:
        if self._down_since is None:
            share = self.rate / self.spenders
            self.fallback.set_rate(share)
            log.warning(
                "attio.limiter.redis_unreachable",
                bucket=self.bucket,
                error=type(error).__name__,
                fallback="in-process limiter",
                share=round(share, 3),
                spenders=self.spenders,
            )
        self._down_since = self._clock()

    def _came_back(self) -> None:
        if self._down_since is not None:
            log.info("attio.limiter.redis_back", bucket=self.bucket)
            self._down_since = None
