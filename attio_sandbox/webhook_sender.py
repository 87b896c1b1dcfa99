"""Sending webhook deliveries in the background, retrying the ones not answered with 2xx.

Attio sends webhooks after the write that caused them, never inside it, so `enqueue` (called
from the journal, inside the write) only queues. A pump task on one event loop, the delivery
loop, turns the queue into signed deliveries and sends them one at a time, in event order.

Which loop: the one given to `start()`, or else the loop running when work arrives or `drain()`
is awaited. A bound loop that has stopped is replaced by the next running one, so a test's
short-lived loops (`asyncio.run`) do not strand deliveries. Events from other threads (a test
thread writing to the store while a TestClient's loop hosts the receiver) are handed to the
delivery loop thread-safely.

The receiving app must live on the delivery loop when the transport is in-process
(`httpx.ASGITransport`): in an async test that is the test's loop (automatic); with a
TestClient, bind its loop: `client.portal.call(state.webhooks.start)`.

Retries follow `WebhookConfig.retry_delays`; a delivery out of retries marks its webhook
`degraded`, and a later 2xx makes it `active` again.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import threading
import time
from collections import Counter, deque
from typing import Any

import httpx

from attio_sandbox.clock import now_timestamp
from attio_sandbox.webhook_messages import Attempt, Delivery, build_delivery, truncated
from attio_sandbox.webhook_registry import Webhook, WebhookRegistry

# How often `drain()` looks whether the work is done.
_POLL_SECONDS = 0.001


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class WebhookSender:
    def __init__(self, registry: WebhookRegistry) -> None:
        self.registry = registry
        # None sends over the network (a receiver on loopback); tests pass an in-process one.
        self.transport: httpx.AsyncBaseTransport | None = None
        # Every delivery made, in the order they were made.
        self.deliveries: list[Delivery] = []
        # Guards the queues below: events can arrive from any thread.
        self._changed = threading.Condition(threading.RLock())
        self._queued: list[tuple[str, dict[str, Any]]] = []  # (webhook id, event)
        self._ready: deque[Delivery] = deque()
        self._retries: list[tuple[float, int, Delivery]] = []  # heap of (due, seq, delivery)
        self._sending: Delivery | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._network: httpx.AsyncHTTPTransport | None = None
        # Bumped when the loop changes or everything is cleared: an older pump then stops and
        # its last attempt's outcome is ignored.
        self._generation = 0

    # Queueing (any thread) --------------------------------------------------------------

    def enqueue(self, items: list[tuple[Webhook, dict[str, Any]]]) -> None:
        with self._changed:
            self._queued.extend((webhook.id, event) for webhook, event in items)
        self._kick(_running_loop())

    @property
    def idle(self) -> bool:
        """Nothing queued, being sent or waiting for a retry."""
        with self._changed:
            return not (self._queued or self._ready or self._retries or self._sending)

    # The delivery loop --------------------------------------------------------------------

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Send from `loop` (default: the running one) from now on, starting with the backlog."""
        target = loop or _running_loop()
        if target is None:
            raise RuntimeError("start() needs a running event loop, or the loop to use")
        self._bind(target)
        self._kick(_running_loop())

    def _usable_loop(
        self, running: asyncio.AbstractEventLoop | None
    ) -> asyncio.AbstractEventLoop | None:
        """The bound loop while it runs, else the caller's running loop (now bound), else None."""
        bound = self._loop
        if bound is not None and bound.is_running():
            return bound
        if running is not None:
            self._bind(running)
        return running

    def _bind(self, loop: asyncio.AbstractEventLoop | None) -> None:
        if loop is self._loop:
            return
        with self._changed:
            self._generation += 1
            if self._sending is not None:
                # Its loop stopped mid-attempt; the attempt never finished, so send it again.
                self._ready.appendleft(self._sending)
                self._sending = None
            self._loop = loop
            self._task = None
            self._wake = None
            self._network = None

    def _kick(self, running: asyncio.AbstractEventLoop | None) -> None:
        if self.idle:
            return
        loop = self._usable_loop(running)
        if loop is None:
            return  # kept until start() or drain() gives it a loop
        if loop is running:
            self._ensure_pump()
        else:
            loop.call_soon_threadsafe(self._ensure_pump)

    def _ensure_pump(self) -> None:
        """On the delivery loop: start the pump, or wake it if it waits for a retry."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            return  # scheduled before the loop changed
        if self._task is None or self._task.done():
            self._wake = asyncio.Event()
            self._task = loop.create_task(self._pump(self._generation))
        elif self._wake is not None:
            self._wake.set()

    async def _pump(self, generation: int) -> None:
        try:
            while generation == self._generation:
                delivery = self._next()
                if delivery is not None:
                    await self._attempt(delivery, generation)
                    continue
                due = self._next_due()
                if due is None or self._wake is None:
                    return
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), max(0.0, due - time.monotonic()))
        finally:
            if self._task is asyncio.current_task():
                self._task = None
            self._notify()

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    # Turning events into deliveries, and picking the next one ----------------------------

    def _next(self) -> Delivery | None:
        with self._changed:
            self._batch_queued()
            if self._ready:
                delivery = self._ready.popleft()
            elif self._retries and self._retries[0][0] <= time.monotonic():
                delivery = heapq.heappop(self._retries)[2]
            else:
                return None
            self._sending = delivery
            return delivery

    def _next_due(self) -> float | None:
        with self._changed:
            return self._retries[0][0] if self._retries else None

    def _batch_queued(self) -> None:
        """Queued events become deliveries of up to `batch_size` events per webhook."""
        size = self.registry.config.batch_size
        open_batches: dict[str, list[dict[str, Any]]] = {}
        for webhook_id, event in self._queued:
            batch = open_batches.setdefault(webhook_id, [])
            batch.append(event)
            if len(batch) == size:
                self._make_delivery(webhook_id, open_batches.pop(webhook_id))
        for webhook_id, batch in open_batches.items():
            self._make_delivery(webhook_id, batch)
        self._queued.clear()

    def _make_delivery(self, webhook_id: str, events: list[dict[str, Any]]) -> None:
        webhook = self.registry.webhooks.get(webhook_id)
        if webhook is None:
            return  # deleted before anything was sent
        delivery = build_delivery(
            len(self.deliveries) + 1,
            webhook_id=webhook.id,
            target_url=webhook.target_url,
            secret=webhook.secret,
            events=events,
            user_agent=self.registry.config.user_agent,
        )
        self.deliveries.append(delivery)
        self._ready.append(delivery)

    # Sending --------------------------------------------------------------------------------

    async def _attempt(self, delivery: Delivery, generation: int) -> None:
        config = self.registry.config
        webhook = self.registry.webhooks.get(delivery.webhook_id)
        if webhook is None:
            with self._changed:
                delivery.state = "dropped"
                self._sending = None
            self._notify()
            return
        request = httpx.Request(
            "POST",
            delivery.target_url,
            content=delivery.body,
            headers=delivery.headers,
            extensions={"timeout": httpx.Timeout(config.timeout_seconds).as_dict()},
        )
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        text = ""
        try:
            response = await asyncio.wait_for(self._send(request), config.timeout_seconds)
        except TimeoutError:
            error = f"no answer within {config.timeout_seconds} s"
        except asyncio.CancelledError:
            with self._changed:
                if generation == self._generation:
                    self._ready.appendleft(delivery)
                    self._sending = None
            raise
        except Exception as exc:
            # A receiver that cannot be reached, or an in-process one that raised: to Attio
            # both are a failed attempt, retried like a 5xx.
            error = f"{type(exc).__name__}: {exc}"
        else:
            status = response.status_code
            text = truncated(response.text)
        attempt = Attempt(
            number=len(delivery.attempts) + 1,
            status=status,
            error=error,
            at=now_timestamp(),
            duration_ms=(time.monotonic() - started) * 1000,
            response_body=text,
        )
        with self._changed:
            if generation != self._generation:
                return
            self._sending = None
            self._record(delivery, webhook, attempt)
        self._notify()

    def _record(self, delivery: Delivery, webhook: Webhook, attempt: Attempt) -> None:
        delivery.attempts.append(attempt)
        delays = self.registry.config.retry_delays
        if attempt.status is not None and 200 <= attempt.status < 300:
            delivery.state = "delivered"
            if webhook.status == "degraded":
                webhook.status = "active"
        elif attempt.number <= len(delays):
            delivery.state = "retrying"
            due = time.monotonic() + delays[attempt.number - 1]
            heapq.heappush(self._retries, (due, delivery.seq, delivery))
        else:
            delivery.state = "failed"
            if webhook.status == "active":
                webhook.status = "degraded"

    async def _send(self, request: httpx.Request) -> httpx.Response:
        transport = self.transport
        if transport is None:
            # Connection pools belong to one loop, so the network transport is per loop.
            if self._network is None:
                self._network = httpx.AsyncHTTPTransport()
            transport = self._network
        response = await transport.handle_async_request(request)
        try:
            await response.aread()
        finally:
            await response.aclose()
        return response

    # Waiting ------------------------------------------------------------------------------

    # A built-in deadline rather than the caller's asyncio.timeout(): a test whose receiver
    # keeps failing must not hang, and the error should say which deliveries are unfinished.
    async def drain(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until every delivery is answered 2xx or out of retries.

        Raises TimeoutError (listing what is left) when that takes longer than `timeout`.
        """
        running = asyncio.get_running_loop()
        loop = self._usable_loop(running)
        if loop is not running:
            await asyncio.to_thread(self.wait_idle, timeout)
            return
        self._kick(running)
        deadline = time.monotonic() + timeout
        while not self.idle:
            if time.monotonic() >= deadline:
                raise TimeoutError(self._unfinished())
            await asyncio.sleep(_POLL_SECONDS)

    def wait_idle(self, timeout: float = 5.0) -> None:
        """`drain()` for synchronous tests, while another thread's loop sends."""
        loop = self._loop
        if loop is not None and loop is _running_loop():
            raise RuntimeError("wait_idle() would block the loop that sends; await drain()")
        with self._changed:
            if self.idle:
                return
            if loop is None or not loop.is_running():
                raise RuntimeError(
                    "No running event loop sends the webhook deliveries: await drain(), or "
                    "bind the receiver's loop, e.g. client.portal.call(state.webhooks.start)."
                )
            if not self._changed.wait_for(lambda: self.idle, timeout):
                raise TimeoutError(self._unfinished())

    def _unfinished(self) -> str:
        with self._changed:
            waiting = [d for d in self.deliveries if d.state in ("pending", "retrying")]
            return (
                f"{len(self._queued)} events queued, {len(waiting)} deliveries unfinished: "
                + ", ".join(f"#{d.seq} {d.state} after {len(d.attempts)} attempts" for d in waiting)
            )

    # Housekeeping -------------------------------------------------------------------------

    def summary(self, recent: int = 50) -> dict[str, Any]:
        with self._changed:
            deliveries = list(self.deliveries)
        return {
            "total": len(deliveries),
            "by_state": dict(Counter(delivery.state for delivery in deliveries)),
            "recent": [d.summary() for d in deliveries[-recent:]] if recent else [],
        }

    def clear(self) -> None:
        """Forget every delivery; one being sent is finished but not recorded."""
        with self._changed:
            self._generation += 1
            self._queued.clear()
            self._ready.clear()
            self._retries.clear()
            self._sending = None
            self.deliveries.clear()
            self._task = None
            self._changed.notify_all()

    async def aclose(self) -> None:
        """Stop sending from the running loop and close its network connections.

        Unsent deliveries stay queued for the next loop. Does nothing when deliveries run on
        another loop, so an app shutting down cannot take them from the loop that hosts them.
        """
        if self._loop is not asyncio.get_running_loop():
            return
        task, network = self._task, self._network
        self._bind(None)
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if network is not None:
            await network.aclose()
