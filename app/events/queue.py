"""Queue mode: verified deliveries wait in a durable Redis Stream for `attio-bridge worker`.

A route appends the delivery exactly as received (the raw request, which the worker verifies
and parses again through the same source, as a replay does), so nothing but text is stored and
an unsigned request never gets this far. Workers read with consumer-group semantics: an entry
is acknowledged only once its effect is in Attio or in the ledger; an entry whose worker died
stays pending and is taken over by another (XAUTOCLAIM) after QUEUE_RECLAIM_IDLE_SECONDS.

When Redis cannot take an append, the delivery waits for it a moment (a restart is over in a
second or two), then the caller processes inline (nothing is lost). Once an outage has outlasted
that hold, Redis is asked again only once per retry interval, so a dead Redis costs the
webhooks nothing but one fast failure per interval.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from app.clients.redis import Redis, RedisError
from app.errors import ServiceUnavailableError
from app.events.model import RawRequest
from app.log import get_logger
from app.metrics import (
    QUEUE_DEPTH,
    QUEUE_ENQUEUED,
    QUEUE_FALLBACKS,
    QUEUE_OLDEST_AGE,
    QUEUE_PENDING,
)

log = get_logger(__name__)

STREAM = "attio-bridge:events"
GROUP = "attio-bridge-workers"
# Counters every process adds to (reclaimed, given up), for GET /admin/queue.
STATS_KEY = "attio-bridge:events:stats"

# The channel of a live delivery is its source's name, or this for Zoho CRM notifications
# (a different source under the same provider); a replay names the ledger record instead.
ZOHO_CRM_CHANNEL = "zoho_crm"
REPLAY_CHANNEL = "replay"

# Seconds. An append is sub-millisecond on a healthy Redis; a webhook must not wait for more.
APPEND_TIMEOUT_SECONDS = 1.0
RETRY_INTERVAL_SECONDS = 1.0
# A restart or failover of the Key Value instance is over within a second or two: for that long
# after Redis went away, deliveries wait for it (one probe asks every HOLD_POLL_SECONDS for all of
# them) rather than being processed inline, competing for the budget the workers are spending.
OUTAGE_HOLD_SECONDS = 2.0
HOLD_POLL_SECONDS = 0.02


class QueueUnavailableError(ServiceUnavailableError):
    code = "queue_unavailable"


class QueueMode(StrEnum):
    inline = "inline"  # no REDIS_URL: every delivery is processed before it is answered
    queue = "queue"  # deliveries are appended to the stream and answered at once
    fallback_inline = "fallback_inline"  # REDIS_URL set but Redis unreachable: inline for now


@dataclass(frozen=True)
class QueuedDelivery:
    entry_id: str
    channel: str
    raw: RawRequest
    received_at: datetime | None
    event_key: str | None = None  # a replay of this ledger record
    times_delivered: int = 1

    def fields(self) -> dict[str, str]:
        values = {
            "channel": self.channel,
            "body": self.raw.body,
            "headers": self.raw.headers_json(),
            "query": self.raw.query,
            "path": self.raw.path,
            "received_at": (self.received_at or datetime.now(UTC)).isoformat(),
        }
        if self.event_key is not None:
            values["event_key"] = self.event_key
        return values

    @classmethod
    def from_entry(cls, entry_id: bytes | str, fields: dict[bytes, bytes]) -> QueuedDelivery:
        text = {key.decode(): value.decode("utf-8") for key, value in fields.items()}
        received = text.get("received_at")
        return cls(
            entry_id=_text(entry_id),
            channel=text.get("channel", ""),
            raw=RawRequest(
                body=text.get("body", ""),
                headers=json.loads(text.get("headers") or "{}"),
                query=text.get("query", ""),
                path=text.get("path", ""),
            ),
            received_at=datetime.fromisoformat(received) if received else None,
            event_key=text.get("event_key"),
        )


@dataclass(frozen=True)
class ConsumerInfo:
    name: str
    pending: int
    idle_seconds: float


@dataclass
class QueueStats:
    depth: int = 0
    pending: int = 0
    unread: int = 0
    oldest_age_seconds: float = 0.0
    consumers: list[ConsumerInfo] = field(default_factory=list)
    reclaimed: int = 0
    given_up: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "depth": self.depth,
            "pending": self.pending,
            "unread": self.unread,
            "oldest_age_seconds": round(self.oldest_age_seconds, 3),
            "consumers": [
                {"name": c.name, "pending": c.pending, "idle_seconds": round(c.idle_seconds, 3)}
                for c in self.consumers
            ],
            "reclaimed": self.reclaimed,
            "given_up": self.given_up,
        }


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _id_ms(entry_id: str) -> int:
    return int(entry_id.split("-", 1)[0])


def _next_id(entry_id: str) -> str:
    ms, _, seq = entry_id.partition("-")
    return f"{ms}-{int(seq or 0) + 1}"


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
    ) -> None:
        self.redis = redis
        self.stream = stream
        self.group = group
        self._append_timeout = append_timeout_seconds
        # After a failed append or ping, Redis is asked again only this much later.
        self.retry_interval_seconds = retry_interval_seconds
        self.outage_hold_seconds = outage_hold_seconds
        self._available = True
        self._retry_at = 0.0
        self._down_since = 0.0
        self._probe: asyncio.Task[None] | None = None

    # -- the intake --------------------------------------------------------------------------

    @property
    def mode(self) -> QueueMode:
        return QueueMode.queue if self._available else QueueMode.fallback_inline

    async def enqueue(self, channel: str, raw: RawRequest, *, event_key: str | None = None) -> str:
        """Append and return the entry id once Redis has acknowledged it.

        QueueUnavailableError: not appended (Redis unreachable, full, or failed moments ago);
        the caller processes inline. An append that timed out may still have landed: the event
        is then processed twice, which idempotent writes make harmless.
        """
        delivery = QueuedDelivery("", channel, raw, datetime.now(UTC), event_key)
        while True:
            # While the outage is young, one probe asks for every waiting delivery.
            if self._available or (not self._holding() and time.monotonic() >= self._retry_at):
                try:
                    entry_id = await self._append(delivery)
                except (RedisError, OSError, TimeoutError) as exc:
                    self._went_down(exc)
                else:
                    self._came_up()
                    QUEUE_ENQUEUED.labels(channel).inc()
                    return entry_id
            if not self._holding():
                QUEUE_FALLBACKS.inc()
                raise QueueUnavailableError("The queue is unavailable")
            await self._until_back()

    async def _append(self, delivery: QueuedDelivery) -> str:
        async with asyncio.timeout(self._append_timeout):
            # No MAXLEN: trimming by length could drop entries nobody has processed. The stream
            # is bounded by `trim` (acknowledged entries only) and by the Key Value instance's
            # memory: with `noeviction` a full Redis refuses the append, and the delivery is
            # processed inline instead.
            return _text(await self.redis.xadd(self.stream, delivery.fields()))  # type: ignore[arg-type]

    def _holding(self) -> bool:
        """Whether Redis went away so recently that deliveries still wait for it."""
        return time.monotonic() - self._down_since < self.outage_hold_seconds

    async def _until_back(self) -> None:
        """Wait until the probe finds Redis back, or the outage hold is over."""
        if self._probe is None or self._probe.done():
            self._probe = asyncio.create_task(self._probe_until_back())
        remaining = self._down_since + self.outage_hold_seconds - time.monotonic()
        await asyncio.wait({self._probe}, timeout=max(0.0, remaining))

    async def _probe_until_back(self) -> None:
        while self._holding():
            await asyncio.sleep(HOLD_POLL_SECONDS)
            try:
                async with asyncio.timeout(self._append_timeout):
                    await self.redis.ping()
            except (RedisError, OSError, TimeoutError):
                continue
            self._came_up()
            return

    async def check(self) -> QueueMode:
        """Ping Redis (not more often than the retry interval while it is down)."""
        if self._available or time.monotonic() >= self._retry_at:
            try:
                async with asyncio.timeout(self._append_timeout):
                    await self.redis.ping()
            except (RedisError, OSError, TimeoutError) as exc:
                self._went_down(exc)
            else:
                self._came_up()
        return self.mode

    def _went_down(self, error: BaseException) -> None:
        now = time.monotonic()
        if self._available:
            self._available = False
            self._down_since = now
            log.error("queue.unavailable", error=type(error).__name__, fallback="inline")
        holding = self._holding()
        self._retry_at = now + (HOLD_POLL_SECONDS if holding else self.retry_interval_seconds)

    def _came_up(self) -> None:
        if not self._available:
            self._available = True
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
                if fields and (delivery := await self._parse(entry_id, fields)):
                    deliveries.append(delivery)
        return deliveries

    async def reclaim(
        self, consumer: str, *, min_idle_ms: int, count: int, start: str = "0-0"
    ) -> tuple[str, list[QueuedDelivery]]:
        """Take over entries idle on any consumer for `min_idle_ms`; returns the scan cursor.

        Each comes with its delivery count (XPENDING), so an entry that keeps failing or killing
        its worker can be given up on instead of looping.
        """
        answer = await self.redis.xautoclaim(
            self.stream, self.group, consumer, min_idle_ms, start_id=start, count=count
        )
        cursor, claimed = _text(answer[0]), answer[1]
        deliveries = []
        for entry_id, fields in claimed:
            if not fields or not (delivery := await self._parse(entry_id, fields)):
                continue
            times = await self.times_delivered(delivery.entry_id)
            deliveries.append(
                QueuedDelivery(
                    delivery.entry_id,
                    delivery.channel,
                    delivery.raw,
                    delivery.received_at,
                    delivery.event_key,
                    times,
                )
            )
        if deliveries:
            await self.redis.hincrby(STATS_KEY, "reclaimed", len(deliveries))
        return cursor, deliveries

    async def _parse(
        self, entry_id: bytes | str, fields: dict[bytes, bytes]
    ) -> QueuedDelivery | None:
        """The entry, or None for one the bridge did not write (acknowledged, so no worker
        trips over it again: nothing in it could be verified or processed)."""
        try:
            return QueuedDelivery.from_entry(entry_id, fields)
        except (ValueError, UnicodeDecodeError) as exc:  # JSON and ISO dates raise ValueError
            log.error("queue.entry.malformed", entry_id=_text(entry_id), error=type(exc).__name__)
            await self.ack(_text(entry_id))
            return None

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
        if self._probe is not None:
            self._probe.cancel()
        await self.redis.aclose()
