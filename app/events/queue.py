"""Queue mode: verified deliveries wait in a durable Redis Stream for `attio-bridge worker`.

A route appends the delivery exactly as received (the raw request, which the worker verifies
and parses again through the same source, as a replay does), so nothing but text is stored and
an unsigned request never gets this far; a Zoho CRM notification loses its channel token first.
Workers read with consumer-group semantics: an entry is acknowledged only once its effect is in
Attio or in the ledger; a dead worker's entries are taken over by another (see `queue_worker`).

The append (`queue_append`) is atomic and idempotent: a duplicate of a delivery still waiting is
not appended again, a stream at QUEUE_MAX_LENGTH takes nothing (503, Retry-After), and an append
that reaches Redis after its sender stopped waiting does nothing. When Redis answers with an
error (out of memory, READONLY, MISCONF, ...) the caller processes inline at once. When it cannot
be reached, the delivery waits a moment (a restart takes a second or two), then is processed
inline; only a successful append ends an outage, and `enqueue` keeps to its deadline. Past that
hold, Redis is asked again once per retry interval: a dead Redis costs one fast failure each.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from app.clients.redis import Redis, RedisError, ResponseError
from app.events.model import RawRequest
from app.events.queue_append import (
    APPEND_SCRIPT,
    DEDUPE_TTL_SECONDS,
    RELEASE_SCRIPT,
    VOID_PREFIX,
    VOID_TTL_SECONDS,
    AppendResult,
    dedupe_key,
    void_key,
    without_crm_token,
)
from app.events.queue_consumers import Consumers
from app.events.queue_entry import (
    GROUP,
    REPLAY_CHANNEL,
    STATS_KEY,
    STREAM,
    ZOHO_CRM_CHANNEL,
    ConsumerInfo,
    QueuedDelivery,
    QueueFullError,
    QueueMode,
    QueueStats,
    QueueUnavailableError,
    _id_ms,
    _next_id,
    _text,
)
from app.log import get_logger
from app.metrics import (
    QUEUE_DEPTH,
    QUEUE_ENQUEUED,
    QUEUE_FALLBACKS,
    QUEUE_OLDEST_AGE,
    QUEUE_PENDING,
)

__all__ = [
    "GROUP",
    "REPLAY_CHANNEL",
    "STATS_KEY",
    "STREAM",
    "ZOHO_CRM_CHANNEL",
    "ConsumerInfo",
    "EventQueue",
    "QueueFullError",
    "QueueMode",
    "QueueStats",
    "QueueUnavailableError",
    "QueuedDelivery",
    "_next_id",
    "enqueue_deadline",
]

log = get_logger(__name__)

# Seconds. An append is sub-millisecond on a healthy Redis; a webhook must not wait for more.
APPEND_TIMEOUT_SECONDS = 1.0
RETRY_INTERVAL_SECONDS = 1.0
# A Key Value restart or failover takes a second or two: that long, deliveries wait for it (one
# probe asks every HOLD_POLL_SECONDS for all) rather than compete inline with the workers.
OUTAGE_HOLD_SECONDS = 2.0
HOLD_POLL_SECONDS = 0.02
# The longest `enqueue` takes, hold included: well within the processing budget, so a delivery
# that then falls back inline still has most of its budget.
ENQUEUE_DEADLINE_SECONDS = 3.0
# An append must reach Redis this long before its sender stops waiting (the answer's way back).
LATE_MARGIN_SECONDS = 0.25
# Entries the stream holds at most (QUEUE_MAX_LENGTH): beyond, deliveries are refused with 503.
MAX_LENGTH = 10_000
# A probe append keeps one entry in its own stream: a write, as an outage must end with one.
PROBE_STREAM = "attio-bridge:events:probe"


def enqueue_deadline(budget_seconds: float) -> float:
    """`enqueue`'s deadline for a processing budget: at most half of it, so a delivery that
    falls back inline keeps at least the other half."""
    return min(ENQUEUE_DEADLINE_SECONDS, budget_seconds / 2)


class EventQueue:
    """The stream, its consumer group, and the intake's view of whether Redis is there."""

    def __init__(
        self,
        redis: Redis,
        *,
        stream: str = STREAM,
        group: str = GROUP,
        append_timeout_seconds: float = APPEND_TIMEOUT_SECONDS,
        retry_interval_seconds: float = RETRY_INTERVAL_SECONDS,
        outage_hold_seconds: float = OUTAGE_HOLD_SECONDS,
        enqueue_deadline_seconds: float = ENQUEUE_DEADLINE_SECONDS,
        max_length: int = MAX_LENGTH,
    ) -> None:
        self.redis = redis
        self.stream = stream
        self.group = group
        self._append_timeout = append_timeout_seconds
        # After a failed append or probe, Redis is asked again only this much later.
        self.retry_interval_seconds = retry_interval_seconds
        self.outage_hold_seconds = outage_hold_seconds
        self.enqueue_deadline_seconds = enqueue_deadline_seconds
        self.max_length = max_length
        self.consumers = Consumers(redis, stream, group)
        self._append_script = redis.register_script(APPEND_SCRIPT)
        self._release_script = redis.register_script(RELEASE_SCRIPT)
        self._available = True
        self._retry_at = 0.0
        self._down_since = 0.0
        self._hold = False  # the outage is one Redis may come back from in a moment
        self._probe: asyncio.Task[None] | None = None
        # Redis's clock minus ours (ms), learnt from each append's answer.
        self._clock_offset_ms = 0.0
        # Tokens of appends whose answer never came: voided once Redis takes writes again.
        self._to_void: dict[str, float] = {}
        self._voiding: asyncio.Task[None] | None = None

    # -- the intake --------------------------------------------------------------------------

    @property
    def mode(self) -> QueueMode:
        return QueueMode.queue if self._available else QueueMode.fallback_inline

    async def enqueue(
        self,
        channel: str,
        raw: RawRequest,
        *,
        event_key: str | None = None,
        ledger_state: str | None = None,
    ) -> str:
        """Append and return the entry id once Redis has acknowledged it (or the id of the
        entry of the same event still waiting: a duplicate is not queued twice).

        QueueUnavailableError: not queued (Redis unreachable, refusing writes, or failed
        moments ago); the caller processes inline, and an append that may have landed is voided
        so no worker processes it too. QueueFullError: the stream is at its length cap. Returns
        or raises within `enqueue_deadline_seconds`.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.enqueue_deadline_seconds
        if channel == ZOHO_CRM_CHANNEL:
            raw = without_crm_token(raw)
        identity = event_key if event_key is not None else raw.body
        delivery = QueuedDelivery(
            "",
            channel,
            raw,
            datetime.now(UTC),
            event_key,
            token=uuid.uuid4().hex,
            dedupe=dedupe_key(channel, identity),
            ledger_state=ledger_state,
        )
        unanswered = False
        while True:
            if self._available or (not self._holding() and time.monotonic() >= self._retry_at):
                try:
                    result = await self._append(delivery, deadline)
                except ResponseError as exc:
                    # Redis answered, and refused: nothing was written, and waiting for it to
                    # change its mind would only hold the webhook.
                    self._went_down(exc, hold=False)
                    break
                except (RedisError, OSError, TimeoutError) as exc:
                    unanswered = True
                    self._went_down(exc, hold=True)
                else:
                    if result.outcome == "full":
                        self._came_up()
                        log.warning("queue.full", max_length=self.max_length)
                        raise QueueFullError(
                            f"The queue holds {self.max_length} deliveries; retry later"
                        )
                    if result.outcome == "late":  # the hold outlasted the deadline: not queued
                        break
                    self._came_up()
                    if result.outcome == "duplicate":
                        log.info("queue.duplicate", channel=channel, entry_id=result.entry_id)
                    else:
                        QUEUE_ENQUEUED.labels(channel).inc()
                    return result.entry_id
            if not self._holding() or deadline - loop.time() < 2 * LATE_MARGIN_SECONDS:
                break
            await self._until_back(deadline)
        if unanswered:
            self._void_later(delivery.token)
        QUEUE_FALLBACKS.inc()
        raise QueueUnavailableError("The queue is unavailable")

    async def _append(self, delivery: QueuedDelivery, deadline: float) -> AppendResult:
        loop = asyncio.get_running_loop()
        wait = max(0.0, min(self._append_timeout, deadline - loop.time()))
        # In Redis's clock, the last moment this append may still be applied: after it, the
        # sender has stopped waiting and may be processing the delivery itself.
        not_after = time.time() * 1000 + self._clock_offset_ms + (wait - LATE_MARGIN_SECONDS) * 1000
        args: list[str | int] = [
            max(1, int(not_after)),
            self.max_length,
            DEDUPE_TTL_SECONDS * 1000,
            VOID_PREFIX,
        ]
        for name, value in delivery.fields().items():
            args += [name, value]
        sent = time.time() * 1000
        async with asyncio.timeout(wait):
            answer: Any = await self._append_script(
                keys=[self.stream, delivery.dedupe, void_key(delivery.token)], args=args
            )
        result = AppendResult(_text(answer[0]), _text(answer[1]), int(answer[2]))
        # Redis's clock read in the middle of the exchange, as well as one round trip allows.
        self._clock_offset_ms = result.redis_now_ms - (sent + time.time() * 1000) / 2
        return result

    def _void_later(self, token: str) -> None:
        """Mark the token void as soon as Redis takes writes (its entry, if it landed, is then
        acknowledged unprocessed by the worker: the delivery was processed inline)."""
        self._to_void[token] = time.monotonic() + VOID_TTL_SECONDS
        if self._voiding is None or self._voiding.done():
            self._voiding = asyncio.create_task(self._void_pending())

    async def _void_pending(self) -> None:
        while self._to_void:
            now = time.monotonic()
            for token, give_up_at in list(self._to_void.items()):
                if now >= give_up_at:
                    del self._to_void[token]
                    continue
                try:
                    async with asyncio.timeout(self._append_timeout):
                        await self.redis.set(void_key(token), "1", px=VOID_TTL_SECONDS * 1000)
                except (RedisError, OSError, TimeoutError):
                    break
                del self._to_void[token]
            else:
                continue
            await asyncio.sleep(HOLD_POLL_SECONDS * 5)

    def _holding(self) -> bool:
        """Whether Redis went away so recently that deliveries still wait for it."""
        return self._hold and time.monotonic() - self._down_since < self.outage_hold_seconds

    async def _until_back(self, deadline: float) -> None:
        """Wait until the probe finds Redis writable, the hold is over or the deadline near."""
        if self._probe is None or self._probe.done():
            self._probe = asyncio.create_task(self._probe_until_back())
        hold_left = self._down_since + self.outage_hold_seconds - time.monotonic()
        deadline_left = deadline - asyncio.get_running_loop().time()
        await asyncio.wait({self._probe}, timeout=max(0.0, min(hold_left, deadline_left)))

    async def _probe_until_back(self) -> None:
        while self._holding():
            await asyncio.sleep(HOLD_POLL_SECONDS)
            if await self._probe_append():
                return

    async def _probe_append(self) -> bool:
        """One small append of our own: Redis is back only once it takes a write again."""
        try:
            async with asyncio.timeout(self._append_timeout):
                await self.redis.xadd(PROBE_STREAM, {"probe": "1"}, maxlen=1, approximate=False)
        except ResponseError as exc:
            self._went_down(exc, hold=False)
            return False
        except (RedisError, OSError, TimeoutError) as exc:
            # A new outage (found by /readyz) is held for like one found by an append.
            self._went_down(exc, hold=self._available or self._hold)
            return False
        self._came_up()
        return True

    async def check(self) -> QueueMode:
        """Probe Redis with a write (not more often than the retry interval while it is down)."""
        if self._available or time.monotonic() >= self._retry_at:
            await self._probe_append()
        return self.mode

    def _went_down(self, error: BaseException, *, hold: bool = True) -> None:
        now = time.monotonic()
        if self._available:
            self._available = False
            self._down_since = now
            self._hold = hold
            log.error(
                "queue.unavailable",
                error=type(error).__name__,
                refused=isinstance(error, ResponseError),
                fallback="inline",
            )
        elif not hold:
            self._hold = False  # an answer came: no point holding deliveries for it
        holding = self._holding()
        self._retry_at = now + (HOLD_POLL_SECONDS if holding else self.retry_interval_seconds)

    def _came_up(self) -> None:
        if not self._available:
            self._available = True
            self._hold = False
            log.info("queue.recovered")

    # -- the workers -------------------------------------------------------------------------

    async def ensure_group(self) -> None:
        """Create the consumer group (and the stream) unless they exist.

        From id 0, not `$`: deliveries appended before the first worker ever started are read.
        """
        try:
            await self.redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except RedisError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def read(
        self, consumer: str, *, count: int, block_ms: int | None = None
    ) -> list[QueuedDelivery]:
        """Entries no consumer of the group has been given yet, now pending on `consumer`
        (waiting up to `block_ms` for one; None: answer at once)."""
        answer: Any
        try:
            answer = await self.redis.xreadgroup(
                self.group, consumer, {self.stream: ">"}, count=count, block=block_ms
            )
        except RedisError as exc:
            if "NOGROUP" not in str(exc):
                raise
            # Redis lost the group (a restart without persistence): start over from the top.
            await self.ensure_group()
            return []
        deliveries = []
        for _stream, entries in answer or []:
            for entry_id, fields in entries:
                # An entry trimmed while being handed out comes back empty.
                if fields:
                    deliveries.append(QueuedDelivery.from_entry(entry_id, fields))
        return deliveries

    async def reclaim(
        self, consumer: str, *, min_idle_ms: int, count: int, start: str = "0-0"
    ) -> tuple[str, list[QueuedDelivery]]:
        """Take over entries of dead consumers at once, and entries idle `min_idle_ms` on
        consumers without a live heartbeat; returns the idle scan's cursor.

        Each comes with its delivery count, so an entry that keeps failing or killing its
        worker can be given up on instead of looping.
        """
        dead = await self.consumers.take_from_dead(consumer, count=count)
        left = count - len(dead.deliveries)
        if left <= 0:
            return start, dead.deliveries
        idle = await self.consumers.take_idle(
            consumer, min_idle_ms=min_idle_ms, count=left, start=start
        )
        taken = {delivery.entry_id for delivery in dead.deliveries}
        return idle.cursor, dead.deliveries + [
            delivery for delivery in idle.deliveries if delivery.entry_id not in taken
        ]

    async def is_void(self, delivery: QueuedDelivery) -> bool:
        """Whether the intake processed this delivery inline after its append went unanswered."""
        return bool(delivery.token) and bool(await self.redis.exists(void_key(delivery.token)))

    async def release(self, delivery: QueuedDelivery) -> None:
        """The entry is being processed: a new delivery of the same body is queued again."""
        if delivery.dedupe:
            await self._release_script(keys=[delivery.dedupe], args=[delivery.entry_id])

    async def times_delivered(self, entry_id: str) -> int:
        rows = await self.redis.xpending_range(self.stream, self.group, entry_id, entry_id, 1)
        return int(rows[0]["times_delivered"]) if rows else 1

    async def ack(self, entry_id: str) -> None:
        await self.redis.xack(self.stream, self.group, entry_id)

    async def count_given_up(self) -> None:
        await self.redis.hincrby(STATS_KEY, "given_up", 1)

    async def _group_info(self) -> dict[str, Any] | None:
        try:
            groups = await self.redis.xinfo_groups(self.stream)
        except RedisError as exc:
            if "no such key" in str(exc).lower():
                return None
            raise
        for group in groups:
            if _text(group["name"]) == self.group:
                return dict(group)
        return None

    async def backlog(self) -> int:
        """Deliveries queued or being processed (the group's pending and unread entries)."""
        if (group := await self._group_info()) is None:
            return int(await self.redis.xlen(self.stream))
        return int(group["pending"]) + int(group.get("lag") or 0)

    async def trim(self) -> int:
        """Delete acknowledged entries only; returns how many went.

        Every entry older than both the oldest pending one and the first one never handed out
        is acknowledged, so XTRIM MINID below that floor drops nothing unprocessed. The group's
        last-delivered id is read before the pending list: an entry handed out in between has a
        larger id than the one read, so it stays above the floor. (MAXLEN would trim by count
        and could drop entries still waiting.)
        """
        group = await self._group_info()
        if group is None:
            return 0
        last_delivered = _text(group["last-delivered-id"])
        summary = await self.redis.xpending(self.stream, self.group)
        floor = _text(summary["min"]) if summary["pending"] else _next_id(last_delivered)
        removed: int = await self.redis.xtrim(self.stream, minid=floor, approximate=False)
        return removed

    async def stats(self) -> QueueStats:
        """Depth, pending, the oldest unacknowledged entry's age, consumers, shared counters."""
        stats = QueueStats()
        now_ms = time.time() * 1000
        oldest: list[str] = []
        group = await self._group_info()
        if group is None:
            stats.unread = stats.depth = int(await self.redis.xlen(self.stream))
            first: Any = await self.redis.xrange(self.stream, count=1)
            oldest += [_text(entry_id) for entry_id, _ in first]
        else:
            last_delivered = _text(group["last-delivered-id"])
            stats.pending = int(group["pending"])
            lag = group.get("lag")
            unread: Any = await self.redis.xrange(self.stream, min=f"({last_delivered}", count=1)
            oldest += [_text(entry_id) for entry_id, _ in unread]
            if lag is None:  # Redis cannot tell (entries deleted past the group's position)
                rest: Any = await self.redis.xrange(self.stream, min=f"({last_delivered}")
                lag = len(rest)
            stats.unread = int(lag)
            stats.depth = stats.pending + stats.unread
            if stats.pending:
                summary = await self.redis.xpending(self.stream, self.group)
                if summary["min"] is not None:
                    oldest.append(_text(summary["min"]))
            for consumer in await self.redis.xinfo_consumers(self.stream, self.group):
                stats.consumers.append(
                    ConsumerInfo(
                        name=_text(consumer["name"]),
                        pending=int(consumer["pending"]),
                        idle_seconds=int(consumer["idle"]) / 1000,
                    )
                )
        if oldest:
            stats.oldest_age_seconds = max(0.0, (now_ms - min(map(_id_ms, oldest))) / 1000)
        counters = await self.redis.hgetall(STATS_KEY)
        stats.reclaimed = int(counters.get(b"reclaimed", 0))
        stats.given_up = int(counters.get(b"given_up", 0))
        return stats

    async def refresh_gauges(self) -> QueueStats | None:
        """Set the queue gauges from Redis; None (gauges unchanged) when Redis does not answer."""
        try:
            async with asyncio.timeout(self._append_timeout * 2):
                stats = await self.stats()
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("queue.stats_failed", error=type(exc).__name__)
            return None
        QUEUE_DEPTH.set(stats.depth)
        QUEUE_PENDING.set(stats.pending)
        QUEUE_OLDEST_AGE.set(stats.oldest_age_seconds)
        return stats

    async def aclose(self) -> None:
        for task in (self._probe, self._voiding):
            if task is not None:
                task.cancel()
        await self.redis.aclose()
