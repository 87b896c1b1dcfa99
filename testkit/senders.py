"""Concurrent webhook senders that behave like the real providers.

Attio, Zoho and Braintree all deliver at least once: any answer but a 2xx (or no answer at all)
means the same request is sent again later, byte for byte; a 2xx is final. Here "later" is
compressed from minutes to a second or two, with exponential backoff and jitter, so a run stays
short. Every loop is bounded: a delivery is abandoned after `max_attempts` sends or when the
run's deadline passes, and an abandoned delivery is reported as lost.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from testkit.world import Delivery


@dataclass
class SendReport:
    attempts: int = 0  # HTTP requests sent, redeliveries included
    redelivered: int = 0  # sends of a delivery that had been sent before
    statuses: Counter[str] = field(default_factory=Counter)  # "200", "503", "connection"
    outcomes: Counter[str] = field(default_factory=Counter)  # sums of the 2xx bodies' counts
    final: dict[int, dict[str, Any]] = field(default_factory=dict)  # delivery -> 2xx body
    latencies: list[float] = field(default_factory=list)  # seconds, 2xx answers only
    abandoned: list[int] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def acknowledged(self) -> int:
        return len(self.final)


@dataclass
class RedeliveryPolicy:
    base_seconds: float = 0.25
    cap_seconds: float = 3.0
    max_attempts: int = 60

    def delay(self, attempt: int, rng: random.Random) -> float:
        return min(self.cap_seconds, self.base_seconds * 2 ** (attempt - 1)) * rng.uniform(0.5, 1.5)


class Senders:
    def __init__(
        self,
        base_url: str,
        deliveries: Sequence[Delivery],
        *,
        concurrency: int,
        deadline_seconds: float,
        policy: RedeliveryPolicy | None = None,
        request_timeout: float = 60.0,
        seed: int = 0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._base_url = base_url
        self._deliveries = deliveries
        self._concurrency = concurrency
        self._deadline_seconds = deadline_seconds
        self._policy = policy or RedeliveryPolicy()
        self._timeout = request_timeout
        self._rng = random.Random(seed)
        self._transport = transport  # tests put an in-process app here
        self.report = SendReport()
        self._queue: asyncio.Queue[tuple[int, int]] = asyncio.Queue()
        self._finished = asyncio.Event()
        self._on_ack: Callable[[int], None] | None = None

    async def run(self, on_ack: Callable[[int], None] | None = None) -> SendReport:
        """Send everything until each delivery is acknowledged or abandoned."""
        self._on_ack = on_ack
        for index in range(len(self._deliveries)):
            self._queue.put_nowait((index, 1))
        limits = httpx.Limits(max_connections=self._concurrency)
        timeout = httpx.Timeout(self._timeout, connect=5.0)
        started = time.monotonic()
        async with httpx.AsyncClient(
            base_url=self._base_url, limits=limits, timeout=timeout, transport=self._transport
        ) as c:
            senders = [asyncio.create_task(self._sender(c)) for _ in range(self._concurrency)]
            try:
                await asyncio.wait_for(self._finished.wait(), self._deadline_seconds)
            except TimeoutError:
                self._abandon_pending()
            finally:
                self._finished.set()
                await asyncio.gather(*senders)
        self.report.elapsed = time.monotonic() - started
        return self.report

    def stop(self) -> None:
        """Give up now: whatever is not acknowledged yet is reported as abandoned."""
        if not self._finished.is_set():
            self._abandon_pending()
            self._finished.set()

    def _settled(self) -> int:
        return self.report.acknowledged + len(self.report.abandoned)

    def _abandon_pending(self) -> None:
        done = set(self.report.final) | set(self.report.abandoned)
        self.report.abandoned += [i for i in range(len(self._deliveries)) if i not in done]

    async def _sender(self, client: httpx.AsyncClient) -> None:
        while not self._finished.is_set():
            try:
                index, attempt = await asyncio.wait_for(self._queue.get(), 0.2)
            except TimeoutError:
                continue
            await self._send(client, index, attempt)

    async def _send(self, client: httpx.AsyncClient, index: int, attempt: int) -> None:
        delivery = self._deliveries[index]
        self.report.attempts += 1
        if attempt > 1:
            self.report.redelivered += 1
        started = time.perf_counter()
        try:
            response = await client.post(
                delivery.path, content=delivery.body, headers=delivery.headers
            )
        except httpx.TransportError:
            self.report.statuses["connection"] += 1
            self._retry_later(index, attempt)
            return
        self.report.statuses[str(response.status_code)] += 1
        if not response.is_success:
            self._retry_later(index, attempt)
            return
        self.report.latencies.append(time.perf_counter() - started)
        body = response.json()
        self.report.final[index] = body
        for outcome in ("processed", "ignored", "recorded"):
            self.report.outcomes[outcome] += int(body.get(outcome, 0))
        if self._on_ack is not None:
            self._on_ack(self.report.acknowledged)
        self._check_finished()

    def _retry_later(self, index: int, attempt: int) -> None:
        if attempt >= self._policy.max_attempts:
            self.report.abandoned.append(index)
            self._check_finished()
            return
        delay = self._policy.delay(attempt, self._rng)
        asyncio.get_running_loop().call_later(delay, self._queue.put_nowait, (index, attempt + 1))

    def _check_finished(self) -> None:
        if self._settled() >= len(self._deliveries):
            self._finished.set()
