"""Client-side rate limiting shared by every Attio call in the process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from app.metrics import ATTIO_LIMITER_WAIT

_AHEAD: ContextVar[bool] = ContextVar("limiter_ahead_of_the_queue", default=False)


@contextmanager
def ahead_of_the_queue() -> Iterator[None]:
    """Calls made inside take the limiter's next free slot instead of queueing behind every
    waiter (still evenly spaced): for the few calls a deadline depends on, e.g. a ledger write
    that keeps an event which ran out of time."""
    token = _AHEAD.set(True)
    try:
        yield
    finally:
        _AHEAD.reset(token)


class RateLimiter:
    """Starts calls at most `rate` per second, evenly spaced (1/rate apart).

    Even spacing rather than a window that admits a burst at its start: requests reach the
    server with network jitter, and a burst at each window edge gets compressed into one of
    the server's seconds, so a client "under" the limit still draws 429s. Evenly spaced starts
    put at most `rate` calls in any one-second window, and jitter of up to an interval can add
    only one more.
    Sequential calls (one awaiting the previous answer) are never slowed: an answer takes
    longer than the interval. Waiters are served in arrival order (asyncio.Lock is FIFO), and
    `pause()` holds everyone back, e.g. until a 429's Retry-After has passed.

    The next start is spaced from this start's *scheduled* time, not from when the sleeper woke:
    the event loop wakes a sleeper late, by about a millisecond when idle (epoll counts whole
    milliseconds) and by several when other callbacks are running (a sync parsing answers while
    it writes), and spacing from the wake-up let that accumulate (23.4 starts/s measured at a
    rate of 24 with no allowance; about 23.0/s in a Braintree sync with 1.5 ms). A late wake-up
    is made up when it is within `CATCH_UP_SECONDS` (at most a quarter interval): starts then
    still never precede their grid points, so a one-second window holds at most rate + 1 of
    them, the bound any allowance below one interval gives, and no gap shrinks by more than the
    allowance. After a longer stall the spacing starts afresh, so lost time never becomes a
    burst. At a true 24 writes/s against Attio's 25, network jitter still lets a rare call land
    in a full second (bench/zoho_sync.py: 1-3 429s in 5,000 writes at 60 ± 20 ms); each is
    honoured through `pause()` and retried.
    """

    CATCH_UP_SECONDS = 0.010

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        bucket: str | None = None,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        # Named (`reads`, `writes`): its waits are reported in /metrics.
        self.bucket = bucket
        self.interval = 1.0 / rate
        self._catch_up = min(self.CATCH_UP_SECONDS, self.interval / 4)
        self._clock = clock
        self._sleep = sleep
        self._next_start = float("-inf")
        self._paused_until = float("-inf")
        self._lock = asyncio.Lock()
        # Callers inside acquire(): the backlog admission control reads.
        self.waiting = 0

    async def acquire(self) -> None:
        started = time.perf_counter()
        self.waiting += 1
        try:
            await (self._jump() if _AHEAD.get() else self._acquire())
        finally:
            self.waiting -= 1
        if self.bucket is not None:
            ATTIO_LIMITER_WAIT.labels(self.bucket).observe(time.perf_counter() - started)

    async def _acquire(self) -> None:
        async with self._lock:
            # Re-check after sleeping: a pause() may have arrived meanwhile.
            while (start := max(self._next_start, self._paused_until)) > self._clock():
                await self._sleep(start - self._clock())
            now = self._clock()
            # On schedule, or late by a timer's overshoot: keep the grid. Later (a stall, or
            # idle): start a new grid here rather than make up lost time.
            on_grid = now - start <= self._catch_up
            self._next_start = (start if on_grid else now) + self.interval

    async def _jump(self) -> None:
        # Reserve the next slot outright; the FIFO head re-checks `_next_start` after its sleep,
        # so it simply starts one interval later.
        now = self._clock()
        start = max(self._next_start, self._paused_until, now)
        self._next_start = start + self.interval
        if start > now:
            await self._sleep(start - now)

    def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    def set_rate(self, rate: float) -> None:
        """Change the rate from the next start on (a shared limiter's share while Redis is away)."""
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.interval = 1.0 / rate
        self._catch_up = min(self.CATCH_UP_SECONDS, self.interval / 4)
