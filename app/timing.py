"""Where a request's time went: waiting on the APIs it called versus the bridge's own work.

The request middleware opens a `RequestTiming` for each HTTP request; the Attio, Zoho and
Braintree clients add each call's duration to it. The response carries the figures in a
standard `Server-Timing` header (`attio;dur=41.20, own;dur=1.90`, milliseconds) and
`bridge_request_own_seconds` records the own part, so "the bridge adds little to Attio's
latency" can be checked per request, in production and in `bench/load.py`.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass
class RequestTiming:
    started: float = field(default_factory=time.perf_counter)
    upstream: dict[str, float] = field(default_factory=dict)  # API name -> seconds waited

    def own_seconds(self) -> float:
        """Time since the request started that was not spent waiting on an API."""
        total = time.perf_counter() - self.started
        return max(0.0, total - sum(self.upstream.values()))

    def server_timing(self, own_seconds: float) -> bytes:
        metrics = [*self.upstream.items(), ("own", own_seconds)]
        return ", ".join(f"{name};dur={seconds * 1000:.2f}" for name, seconds in metrics).encode()


current_timing: ContextVar[RequestTiming | None] = ContextVar("request_timing", default=None)


def add_upstream_seconds(api: str, seconds: float) -> None:
    """Count one API call against the request being served, if any (CLI runs have none)."""
    timing = current_timing.get()
    if timing is not None:
        timing.upstream[api] = timing.upstream.get(api, 0.0) + seconds
