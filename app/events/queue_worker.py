"""`attio-bridge worker`: drain the queue through the same sources and processor as a webhook.

An entry is acknowledged only when its effect is in Attio or in the ledger (the processor
returned). When neither was possible (LedgerUnavailableError, or any unexpected error) it stays
pending: the worker tries it again itself after OWN_RETRY_SECONDS, doubling with each delivery up
to the reclaim idle time (another worker takes it over if this one dies); after
QUEUE_MAX_DELIVERIES it is
put in the ledger as failed instead, so it neither loops nor is lost. An entry that no longer
verifies at the worker (a secret rotated since it was queued) or does not even decode is recorded
as dead in the ledger and acknowledged, so it never blocks trimming or reclaiming.

Each worker keeps a heartbeat in Redis; the entries of a consumer without one are taken over at
once (`queue_consumers`). A queued replay is processed only if its ledger record is still in the
state it was queued in: a record settled meanwhile is not processed again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from app.clients.redis import RedisError
from app.errors import BridgeError
from app.events.ledger import Ledger
from app.events.model import RawRequest, Source, WebhookEvent
from app.events.processor import EventProcessor, LedgerUnavailableError
from app.events.queue import ZOHO_CRM_CHANNEL, EventQueue, QueuedDelivery
from app.events.queue_append import without_crm_token
from app.events.replay import Replayer, ledger_state
from app.events.sources import EventSource
from app.log import get_logger
from app.metrics import QUEUE_GIVEN_UP, QUEUE_RECLAIMED

log = get_logger(__name__)

BLOCK_MS = 1000  # one blocking read at most: a stop request is seen within a second
REDIS_BACKOFF_SECONDS = (0.5, 1.0, 2.0, 5.0)


class QueueDeliveriesExhaustedError(Exception):
    """Recorded in the ledger for an entry taken too many times without being finished."""


@dataclass(frozen=True)
class WorkerSettings:
    consumer: str
    concurrency: int = 16
    reclaim_idle_seconds: float = 60.0
    max_deliveries: int = 5
    # An entry this worker left pending is tried again after this, doubled per delivery.
    own_retry_seconds: float = 5.0


class QueueWorker:
    def __init__(
        self,
        queue: EventQueue,
        processor: EventProcessor,
        replayer: Replayer,
        ledger: Ledger,
        resolve: Callable[[str], EventSource | None],
        settings: WorkerSettings,
    ) -> None:
        self._queue = queue
        self._processor = processor
        self._replayer = replayer
        self._ledger = ledger
        self._resolve = resolve
        self._settings = settings
        self._in_flight: dict[str, asyncio.Task[bool]] = {}
        self._reclaim_cursor = "0-0"
        self._next_housekeeping = 0.0
        self._next_dead_check = 0.0
        # Entries this worker left pending, and when to try each again.
        self._retry_at: dict[str, float] = {}
        self.finished = 0  # entries acknowledged by this worker

    @property
    def consumer(self) -> str:
        return self._settings.consumer

    async def run(self, stop: asyncio.Event) -> None:
        """Read, reclaim and process until `stop` is set, then finish what is in flight."""
        settings = self._settings
        log.info(
            "queue.worker.started",
            consumer=settings.consumer,
            concurrency=settings.concurrency,
            stream=self._queue.stream,
        )
        heartbeat = asyncio.create_task(self._heartbeat(stop))
        try:
            await self._loop(stop)
        finally:
            heartbeat.cancel()
        try:
            await self._queue.consumers.leave(settings.consumer)
        except (RedisError, OSError) as exc:
            log.warning("queue.worker.leave_failed", error=type(exc).__name__)
        log.info("queue.worker.stopped", consumer=settings.consumer, finished=self.finished)

    async def _heartbeat(self, stop: asyncio.Event) -> None:
        """Renew this worker's heartbeat until it stops (while Redis is away: keep trying)."""
        while not stop.is_set():
            try:
                await self._queue.consumers.beat(self.consumer)
            except (RedisError, OSError) as exc:
                log.debug("queue.worker.heartbeat_failed", error=type(exc).__name__)
            await _sleep_unless(stop, self._queue.consumers.interval_seconds)

    async def _loop(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                if failures or not self._next_housekeeping:
                    await self._queue.consumers.beat(self.consumer)  # alive before reading
                    await self._queue.ensure_group()
                await self._step(stop)
                failures = 0
            except Exception as exc:
                # Redis away (the usual case) or a bug: back off and carry on, never exit with
                # entries in flight.
                delay = REDIS_BACKOFF_SECONDS[min(failures, len(REDIS_BACKOFF_SECONDS) - 1)]
                failures += 1
                log.warning(
                    "queue.worker.redis_error"
                    if isinstance(exc, RedisError | OSError)
                    else "queue.worker.error",
                    error=type(exc).__name__,
                    retry_in=delay,
                    exc_info=not isinstance(exc, RedisError | OSError),
                )
                await _sleep_unless(stop, delay)
        if self._in_flight:
            log.info("queue.worker.draining", in_flight=len(self._in_flight))
            await asyncio.gather(*self._in_flight.values(), return_exceptions=True)

    async def _step(self, stop: asyncio.Event) -> None:
        free = self._settings.concurrency - len(self._in_flight)
        if free <= 0:
            # Every slot is busy: wait for one to free up (or the stop request).
            await asyncio.wait(
                [*self._in_flight.values()], timeout=BLOCK_MS / 1000, return_when="FIRST_COMPLETED"
            )
            return
        if time.monotonic() >= self._next_housekeeping:
            await self._housekeeping(free)
            return
        if time.monotonic() >= self._next_dead_check:
            self._next_dead_check = time.monotonic() + self._queue.consumers.interval_seconds
            claimed = await self._queue.consumers.take_from_dead(self.consumer, count=free)
            self._start_reclaimed(claimed.deliveries)
            if claimed.deliveries:
                # A dead worker's entries come before new ones: look again as slots free up.
                self._next_dead_check = 0.0
                return
        now = time.monotonic()
        due = [i for i, at in self._retry_at.items() if at <= now and i not in self._in_flight]
        if due:
            for entry_id in due[:free]:
                del self._retry_at[entry_id]
            for delivery in await self._queue.consumers.retake(self.consumer, due[:free]):
                log.info(
                    "queue.entry.retried",
                    entry_id=delivery.entry_id,
                    times_delivered=delivery.times_delivered,
                )
                self._start(delivery)
            return
        block = BLOCK_MS if not self._in_flight else 100  # stay responsive while busy
        for delivery in await self._queue.read(self.consumer, count=free, block_ms=block):
            self._start(delivery)

    async def _housekeeping(self, free: int) -> None:
        """The idle-time fallback (and the dead), trim acknowledged entries, refresh gauges."""
        idle = self._settings.reclaim_idle_seconds
        self._next_housekeeping = time.monotonic() + max(1.0, idle / 4)
        cursor, claimed = await self._queue.reclaim(
            self.consumer, min_idle_ms=int(idle * 1000), count=free, start=self._reclaim_cursor
        )
        self._reclaim_cursor = cursor
        self._start_reclaimed(claimed)
        await self._queue.trim()
        await self._queue.refresh_gauges()

    def _start_reclaimed(self, claimed: list[QueuedDelivery]) -> None:
        for delivery in claimed:
            if delivery.entry_id in self._in_flight:
                continue  # ours, still being worked on
            QUEUE_RECLAIMED.inc()
            log.info(
                "queue.entry.reclaimed",
                entry_id=delivery.entry_id,
                times_delivered=delivery.times_delivered,
            )
            self._start(delivery)

    def _start(self, delivery: QueuedDelivery) -> None:
        task = asyncio.create_task(self.handle(delivery))
        self._in_flight[delivery.entry_id] = task
        task.add_done_callback(lambda done: self._finished(delivery, done))

    def _finished(self, delivery: QueuedDelivery, task: asyncio.Task[bool]) -> None:
        self._in_flight.pop(delivery.entry_id, None)
        if task.cancelled() or task.exception() is not None or task.result():
            return
        # Left pending: try it again soon rather than after the reclaim idle time.
        settings = self._settings
        delay = settings.own_retry_seconds * 2 ** max(0, delivery.times_delivered - 1)
        delay = min(delay, settings.reclaim_idle_seconds)
        self._retry_at[delivery.entry_id] = time.monotonic() + delay

    async def handle(self, delivery: QueuedDelivery) -> bool:
        """Process one entry; acknowledge it if its effect is in Attio or the ledger."""
        fields = {"entry_id": delivery.entry_id, "channel": delivery.channel}
        # From now on a new delivery of the same body is queued again, not collapsed into this
        # one: it may report a change made after this entry's processing read Attio.
        released = await self._release(delivery, fields)
        try:
            if await self._queue.is_void(delivery):
                # Its append went unanswered and the intake processed it inline.
                log.info("queue.entry.void", **fields)
            else:
                await self._handle(delivery)
        except LedgerUnavailableError:
            log.warning("queue.entry.left_pending", reason="ledger_unavailable", **fields)
            return False
        except Exception:
            log.exception("queue.entry.left_pending", reason="error", **fields)
            return False
        try:
            await self._queue.ack(delivery.entry_id)
        except (RedisError, OSError) as exc:
            # Done but not acknowledged: it is taken over and processed again (idempotently).
            log.warning("queue.entry.ack_failed", error=type(exc).__name__, **fields)
            return False
        self.finished += 1
        if not released:  # else a twin could be folded into this finished entry until trimmed
            await self._release(delivery, fields)
        return True

    async def _release(self, delivery: QueuedDelivery, fields: dict[str, str]) -> bool:
        try:
            await self._queue.release(delivery)
        except (RedisError, OSError) as exc:  # the dedupe key expires by itself
            log.warning("queue.entry.release_failed", error=type(exc).__name__, **fields)
            return False
        return True

    async def _handle(self, delivery: QueuedDelivery) -> None:
        if delivery.defect is not None:
            await self._poison(delivery, f"entry does not decode ({delivery.defect})")
            return
        if delivery.times_delivered > self._settings.max_deliveries:
            await self._give_up(delivery)
            return
        if delivery.event_key is not None:
            await self._replay(delivery.event_key, delivery.ledger_state)
            return
        events = await self._events(delivery)
        if events is not None:
            await self._processor.process_delivery(events, admit=False)

    async def _events(self, delivery: QueuedDelivery) -> list[WebhookEvent] | None:
        """The entry verified and parsed again by its source; None once recorded as poison."""
        source = self._resolve(delivery.channel)
        if source is None:
            await self._poison(delivery, f"{delivery.channel} webhooks are disabled")
            return None
        try:
            return await source.events_from(delivery.raw)
        except BridgeError as exc:
            await self._poison(delivery, f"{exc.code}: {exc.message}")
            return None
        except Exception as exc:  # e.g. RecursionError: retrying would only fail the same way
            await self._poison(delivery, f"{type(exc).__name__} while parsing")
            return None

    async def _replay(self, event_key: str, queued_state: str | None) -> None:
        # Loaded now, not when queued: the record's attempts are counted from its latest state.
        entry = await self._ledger.get(event_key)
        if entry is None:
            log.warning("queue.replay.missing", event_key=event_key)
            return
        if queued_state is not None and ledger_state(entry) != queued_state:
            # Replayed or retried since it was queued: that attempt is the one that counts.
            log.info("queue.replay.settled", event_key=event_key, status=entry.status.value)
            return
        result = await self._replayer.replay(entry, inline=True)
        log.info("queue.replay.done", event_key=event_key, status=result.status.value)

    async def _poison(self, delivery: QueuedDelivery, reason: str) -> None:
        """Record an entry no source can turn into events, as dead, so an operator sees it."""
        log.warning("queue.entry.unverifiable", entry_id=delivery.entry_id, reason=reason)
        QUEUE_GIVEN_UP.labels("poison").inc()
        raw = delivery.raw
        if delivery.channel == ZOHO_CRM_CHANNEL:
            raw = without_crm_token(raw)  # the route's credential never reaches Attio
        event = WebhookEvent(
            source=_source_of(delivery.channel),
            event_type="unverifiable",
            event_key=f"{delivery.channel}:queue:{delivery.entry_id}",
            raw=raw,
        )
        await self._ledger.record_failure(
            event,
            f"queued delivery no longer verifies or parses: {reason}",
            permanent=True,
            previous=None,
        )
        await self._queue.count_given_up()

    async def _give_up(self, delivery: QueuedDelivery) -> None:
        """Taken too often without finishing: its events go to the ledger as failed."""
        log.error(
            "queue.entry.exhausted",
            entry_id=delivery.entry_id,
            times_delivered=delivery.times_delivered,
        )
        QUEUE_GIVEN_UP.labels("exhausted").inc()
        if delivery.event_key is not None:
            # A replay: its record is already in the ledger, on its own retry schedule.
            await self._queue.count_given_up()
            return
        events = await self._events(delivery)
        if events is None:
            return
        error = QueueDeliveriesExhaustedError(
            f"not finished after {delivery.times_delivered} deliveries from the queue"
        )
        for event in events:
            await self._processor.record_failure(event, error)
        await self._queue.count_given_up()


class QueuedCrmSource:
    """Zoho CRM notifications as queued: without their token (stripped at the intake, which
    checked it), rebuilt as a replay rebuilds them; an entry queued with its token is checked
    by the live source."""

    source = Source.zoho

    def __init__(self, live: EventSource, stored: EventSource) -> None:
        self._live = live
        self._stored = stored

    async def events_from(self, raw: RawRequest) -> list[WebhookEvent]:
        if without_crm_token(raw) is not raw:
            return await self._live.events_from(raw)
        return await self._stored.events_from(raw)


def _source_of(channel: str) -> Source:
    """The provider to file an unverifiable entry under (Zoho CRM notifications are Zoho's)."""
    if channel == ZOHO_CRM_CHANNEL:
        return Source.zoho
    try:
        return Source(channel)
    except ValueError:
        return Source.attio


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    try:
        async with asyncio.timeout(seconds):
            await stop.wait()
    except TimeoutError:
        pass
