"""Which workers are alive, and taking over what a dead one left pending.

Every worker keeps a heartbeat key (`attio-bridge:workers:<consumer>`, expiring after
HEARTBEAT_TTL_SECONDS, renewed five times as often). A consumer of the group with
no live heartbeat and no interaction for as long is dead: another worker claims its pending
entries at once (XCLAIM) and removes it from the group (XGROUP DELCONSUMER) once it holds
nothing. The idle-time rule (QUEUE_RECLAIM_IDLE_SECONDS) stays as the fallback, and skips the
entries of consumers whose heartbeat is live: a slow worker's entries are never taken from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.clients.redis import Redis
from app.events.queue_entry import STATS_KEY, QueuedDelivery, _next_id, _text
from app.log import get_logger

log = get_logger(__name__)

HEARTBEAT_PREFIX = "attio-bridge:workers:"
HEARTBEAT_TTL_SECONDS = 5.0
# Beats per heartbeat lifetime: four may be missed (a Redis restart) before a worker looks dead.
BEATS_PER_TTL = 5


def heartbeat_key(consumer: str) -> str:
    return f"{HEARTBEAT_PREFIX}{consumer}"


@dataclass(frozen=True)
class Claimed:
    deliveries: list[QueuedDelivery]
    cursor: str = "0-0"  # where the idle scan goes on next time
    removed: tuple[str, ...] = ()  # dead consumers taken out of the group


class Consumers:
    def __init__(
        self, redis: Redis, stream: str, group: str, *, ttl_seconds: float = HEARTBEAT_TTL_SECONDS
    ) -> None:
        self.redis = redis
        self.stream = stream
        self.group = group
        self.ttl_seconds = ttl_seconds

    @property
    def interval_seconds(self) -> float:
        """How often a worker renews its heartbeat, and looks for dead consumers."""
        return self.ttl_seconds / BEATS_PER_TTL

    async def beat(self, consumer: str) -> None:
        await self.redis.set(heartbeat_key(consumer), "1", px=int(self.ttl_seconds * 1000))

    async def leave(self, consumer: str) -> None:
        """A worker stopping cleanly: no heartbeat, and out of the group if it holds nothing."""
        await self.redis.delete(heartbeat_key(consumer))
        for info in await self._consumers():
            if _text(info["name"]) == consumer and int(info["pending"]) == 0:
                await self.redis.xgroup_delconsumer(self.stream, self.group, consumer)

    async def live(self, names: list[str]) -> set[str]:
        if not names:
            return set()
        beats = await self.redis.mget([heartbeat_key(name) for name in names])
        return {name for name, beat in zip(names, beats, strict=True) if beat is not None}

    async def _consumers(self) -> list[dict[str, Any]]:
        return [dict(c) for c in await self.redis.xinfo_consumers(self.stream, self.group)]

    async def take_from_dead(self, me: str, *, count: int) -> Claimed:
        """Claim up to `count` entries of consumers that are dead (no heartbeat, idle at least
        the heartbeat's lifetime); remove dead consumers that hold nothing more."""
        infos = [c for c in await self._consumers() if _text(c["name"]) != me]
        alive = await self.live([_text(c["name"]) for c in infos])
        quiet_ms = self.ttl_seconds * 1000
        dead = [c for c in infos if _text(c["name"]) not in alive and int(c["idle"]) >= quiet_ms]
        deliveries: list[QueuedDelivery] = []
        removed: list[str] = []
        for info in dead:
            name = _text(info["name"])
            if int(info["pending"]) == 0:
                await self.redis.xgroup_delconsumer(self.stream, self.group, name)
                removed.append(name)
                log.info("queue.consumer.removed", consumer=name)
                continue
            if len(deliveries) >= count:
                continue
            rows: Any = await self.redis.xpending_range(
                self.stream, self.group, "-", "+", count - len(deliveries), consumername=name
            )
            ids: list[Any] = [_text(row["message_id"]) for row in rows]
            times = {_text(row["message_id"]): int(row["times_delivered"]) for row in rows}
            if ids:
                log.info("queue.consumer.dead", consumer=name, claimed=len(ids))
                deliveries += await self._claim(me, ids, times, min_idle_ms=0)
        return Claimed(deliveries, removed=tuple(removed))

    async def take_idle(self, me: str, *, min_idle_ms: int, count: int, start: str) -> Claimed:
        """Claim entries idle `min_idle_ms` on consumers without a live heartbeat (the fallback
        when a worker's death went unseen); returns the scan cursor for the next call."""
        rows: Any = await self.redis.xpending_range(
            self.stream, self.group, start, "+", count, idle=min_idle_ms
        )
        cursor = _next_id(_text(rows[-1]["message_id"])) if len(rows) == count else "0-0"
        owners = sorted({_text(row["consumer"]) for row in rows} - {me})
        alive = await self.live(owners)
        chosen = [r for r in rows if _text(r["consumer"]) not in alive]
        ids: list[Any] = [_text(row["message_id"]) for row in chosen]
        times = {_text(row["message_id"]): int(row["times_delivered"]) for row in chosen}
        return Claimed(await self._claim(me, ids, times, min_idle_ms=min_idle_ms), cursor)

    async def retake(self, me: str, ids: list[Any]) -> list[QueuedDelivery]:
        """Claim again entries `me` left pending (still its own), counting one more delivery;
        an entry acknowledged or trimmed meanwhile does not come back."""
        claimed: Any = await self.redis.xclaim(self.stream, self.group, me, 0, ids)
        deliveries = []
        for entry_id, fields in claimed:
            if not fields:
                continue
            delivery = QueuedDelivery.from_entry(entry_id, fields)
            rows: Any = await self.redis.xpending_range(
                self.stream, self.group, delivery.entry_id, delivery.entry_id, 1
            )
            times = int(rows[0]["times_delivered"]) if rows else 1
            deliveries.append(delivery.with_times_delivered(times))
        return deliveries

    async def _claim(
        self, me: str, ids: list[Any], times: dict[str, int], *, min_idle_ms: int
    ) -> list[QueuedDelivery]:
        if not ids:
            return []
        claimed: Any = await self.redis.xclaim(self.stream, self.group, me, min_idle_ms, ids)
        deliveries = []
        for entry_id, fields in claimed:
            if not fields:  # trimmed meanwhile
                continue
            delivery = QueuedDelivery.from_entry(entry_id, fields)
            # XCLAIM counted this delivery too.
            deliveries.append(delivery.with_times_delivered(times.get(delivery.entry_id, 0) + 1))
        if deliveries:
            await self.redis.hincrby(STATS_KEY, "reclaimed", len(deliveries))
        return deliveries
