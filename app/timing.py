"""Where a request's time went: waiting (on an API, or on our limiter for its rate budget)
versus the bridge's own work.

The request middleware opens a `RequestTiming` for each HTTP request; the Attio, Zoho and
Braintree clients add each call's duration, and the time a call queued at the client-side rate
limiter, to it. The response carries the figures in a standard `Server-Timing` header
(`attio;dur=41.20, own;dur=1.90`, milliseconds) and `bridge_request_own_seconds` records the
own part, so "the bridge adds little to Attio's latency" can be checked per request, in
production and in `bench/load.py`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from contextvars import ContextVar
from dataclasses import dataclass, field

# Below this a limiter wait is just the cost of asking it: not worth a header entry.
_MIN_QUEUE_SECONDS = 0.0001


@dataclass
class RequestTiming:
    started: float = field(default_factory=time.perf_counter)
    waits: dict[str, float] = field(default_factory=dict)  # what was waited on -> seconds

    def own_seconds(self) -> float:
        """Time since the request started that was not spent waiting."""
        total = time.perf_counter() - self.started
        return max(0.0, total - sum(self.waits.values()))

    def server_timing(self, own_seconds: float) -> bytes:
        metrics = [*self.waits.items(), ("own", own_seconds)]
        return ", ".join(f"{name};dur={seconds * 1000:.2f}" for name, seconds in metrics).encode()


current_timing: ContextVar[RequestTiming | None] = ContextVar("request_timing", default=None)


def add_wait_seconds(name: str, seconds: float) -> None:
    """Count a wait (`attio`, `attio-limiter`, ...) against the request being served, if any
    (CLI runs have none)."""
    timing = current_timing.get()
    if timing is not None:
        timing.waits[name] = timing.waits.get(name, 0.0) + seconds


async def queued(name: str, slot: Awaitable[object]) -> None:
    """Await a rate limiter's slot, counting the wait when it was more than the asking."""
    started = time.perf_counter()
    await slot
    waited = time.perf_counter() - started
    if waited >= _MIN_QUEUE_SECONDS:
        add_wait_seconds(name, waited)
