"""Zoho's quota is counted per minute (100 requests per organization), not per second.

A sliding window of one minute lets a catalogue scan of a few dozen pages run at network speed
while never starting more than the quota within any 60 seconds. Evenly spacing calls instead
(as the Attio limiter does for Attio's one-second windows) would cost 0.6 s per call for no gain.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable


class MinuteWindowLimiter:
    """At most `max_calls` starts within any `period` seconds; FIFO; `pause()` holds all."""

    def __init__(
        self,
        max_calls: int,
        period: float = 60.0,
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
        self._paused_until = float("-inf")
        self._lock = asyncio.Lock()

    def _delay(self, now: float) -> float:
        while self._starts and now - self._starts[0] >= self.period:
            self._starts.popleft()
        delay = self._paused_until - now
        if len(self._starts) >= self.max_calls:
            delay = max(delay, self._starts[0] + self.period - now)
        return max(delay, 0.0)

    async def acquire(self) -> None:
        async with self._lock:
            # Re-check after sleeping: a pause() may have arrived meanwhile.
            while (delay := self._delay(self._clock())) > 0:
                await self._sleep(delay)
            self._starts.append(self._clock())

    def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, self._clock() + seconds)
