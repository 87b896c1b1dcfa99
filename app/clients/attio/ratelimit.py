"""Client-side rate limiting shared by every Attio call in the process."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any


class SlidingWindowLimiter:
    """At most `max_calls` may start within any window of `period` seconds.

    A sliding window matches how Attio counts (requests per second) more closely than a leaky
    bucket, which after an idle spell lets a full burst through on top of the steady rate and so
    can double the rate inside one second. Waiters are served in arrival order (asyncio.Lock is
    FIFO). `pause()` holds everyone back, e.g. until a 429's Retry-After has passed.
    """

    def __init__(
        self,
        max_calls: int,
        period: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if max_calls < 1 or period <= 0:
            raise ValueError("max_calls must be >= 1 and period > 0")
        self.max_calls = max_calls
        self.period = period
        self._clock = clock
        self._sleep = sleep
        self._starts: deque[float] = deque()
        self._paused_until = 0.0
        self._lock = asyncio.Lock()

    @classmethod
    def per_second(cls, rate: float, **kwargs: Any) -> SlidingWindowLimiter:
        """A limiter for `rate` calls per second (fractional rates use a longer window)."""
        if rate >= 1:
            return cls(int(rate), 1.0, **kwargs)
        return cls(1, 1.0 / rate, **kwargs)

    def _delay(self, now: float) -> float:
        while self._starts and now - self._starts[0] >= self.period:
            self._starts.popleft()
        delay = self._paused_until - now
        if len(self._starts) >= self.max_calls:
            delay = max(delay, self._starts[0] + self.period - now)
        return max(delay, 0.0)

    async def acquire(self) -> None:
        async with self._lock:
            # Sleeping exactly until the next slot frees; nothing else can free one sooner
            # except pause() ending, which only ever extends the wait.
            while (delay := self._delay(self._clock())) > 0:
                await self._sleep(delay)
            self._starts.append(self._clock())

    def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, self._clock() + seconds)
