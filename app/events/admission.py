"""Admission control for inline processing: refuse at once what cannot start in time.

Without a queue, a delivery is processed while its sender waits, and every delivery's Attio
writes join one write limiter. When that limiter's backlog (plus the writes of deliveries already
admitted but not yet queued) is longer than the time budget allows, a new delivery would only
wait, time out half-done and land in the ledger, spending writes twice. It is refused instead,
before any Attio call, with 503 and Retry-After, and counted.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from app.errors import ServiceUnavailableError

# Attio writes a typical event costs (a Braintree charge: person, subscription, payment). An
# estimate only: it sizes how many deliveries may be in flight at once.
WRITES_PER_DELIVERY = 3
# Share of the budget the write backlog may fill: the rest is for the admitted event's own calls.
BACKLOG_SHARE = 0.6


class OverloadedError(ServiceUnavailableError):
    """The Attio budget is spoken for: retry after `retry_after` seconds."""

    code = "overloaded"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class Decision:
    admitted: bool
    wait_seconds: float

    @property
    def retry_after(self) -> int:
        return max(1, math.ceil(self.wait_seconds))


class Admission:
    """Counts deliveries in flight and estimates the write wait a new one would face.

    `queued_writes` is the number of calls waiting on the write limiter now; `interval` its
    spacing (1 / write rate).
    """

    def __init__(
        self,
        *,
        budget_seconds: float,
        interval: float,
        queued_writes: Callable[[], int],
        writes_per_delivery: int = WRITES_PER_DELIVERY,
    ) -> None:
        self._limit = budget_seconds * BACKLOG_SHARE
        self._interval = interval
        self._queued_writes = queued_writes
        self._writes_per_delivery = writes_per_delivery
        self.in_flight = 0

    def estimate(self) -> float:
        """Seconds a new delivery's first write would wait, were it admitted now."""
        # In-flight deliveries whose writes are already queued are counted twice: erring on the
        # side of refusing, which costs the sender a retry, never a half-done event.
        ahead = self._queued_writes() + self._writes_per_delivery * self.in_flight
        return ahead * self._interval

    def decide(self) -> Decision:
        wait = self.estimate()
        return Decision(admitted=wait <= self._limit, wait_seconds=wait)

    @contextmanager
    def admitted(self) -> Iterator[None]:
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1
