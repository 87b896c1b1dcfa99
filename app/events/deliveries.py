"""When each source last sent a delivery that verified: what `<source>.silence` checks.

Kept across processes: in Redis (`attio-bridge:watch:delivery:<source>`) when REDIS_URL is set,
otherwise in one Attio bookkeeping record per source (`sync-state:delivery:<source>` in
`bridge_events`, beside the sync state). Noting a delivery never delays or fails it: the write
runs in the background, and at most once per interval per source and process (Attio: 10
minutes, or half the source's silence threshold when that is shorter), so a delivery clears a
silence by the next watch pass without costing a write per delivery.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime, timedelta

from app.clients.attio import AttioClient, AttioError
from app.clients.attio.values import first_value, iso_timestamp, read_timestamp
from app.clients.redis import Redis, RedisError
from app.config import Settings
from app.events.ledger import SYNC_STATE_KEY_PREFIX
from app.events.model import Source
from app.log import get_logger
from app.schema import BRIDGE_EVENTS, EVENT_KEY

log = get_logger(__name__)

DELIVERY_KEY_PREFIX = SYNC_STATE_KEY_PREFIX + "delivery:"
DELIVERY_EVENT_TYPE = "watch.delivery"
REDIS_KEY_PREFIX = "attio-bridge:watch:delivery:"
ATTIO_INTERVAL = timedelta(minutes=10)
REDIS_INTERVAL = timedelta(seconds=1)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _parse(raw: object) -> datetime | None:
    return read_timestamp(raw.decode() if isinstance(raw, bytes) else raw)


def silence_thresholds(settings: Settings) -> dict[Source, timedelta | None]:
    """The configured WATCH_SILENCE_<SOURCE> thresholds (Braintree's default is not known
    here: it comes from its traffic, and is never shorter than the Attio write interval)."""
    return {source: getattr(settings, f"watch_silence_{source.value}") for source in Source}


def watched_sources(settings: Settings) -> frozenset[Source]:
    """The sources whose silence can be checked: a threshold is set, or (Braintree) derived."""
    watched = {source for source, limit in silence_thresholds(settings).items() if limit}
    if settings.braintree_configured and settings.watch_silence_braintree is None:
        watched.add(Source.braintree)
    return frozenset(watched)


class DeliveryClock:
    def __init__(
        self,
        attio: AttioClient,
        redis: Redis | None = None,
        *,
        thresholds: Mapping[Source, timedelta | None] | None = None,
        watched: Collection[Source] = frozenset(Source),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._attio = attio
        self._redis = redis
        self._thresholds = dict(thresholds or {})
        self._watched = frozenset(watched)  # the others' silence is never checked: no writes
        self._clock = clock
        self._written: dict[Source, float] = {}  # monotonic time of this process's last write
        self._tasks: set[asyncio.Task[None]] = set()

    def interval(self, source: Source) -> timedelta:
        cap = REDIS_INTERVAL if self._redis is not None else ATTIO_INTERVAL
        threshold = self._thresholds.get(source)
        return min(cap, threshold / 2) if threshold else cap

    def note(self, source: Source) -> None:
        """A delivery from `source` verified: remember when, in the background."""
        if source not in self._watched:
            return
        now = time.monotonic()
        last = self._written.get(source)
        if last is not None and now - last < self.interval(source).total_seconds():
            return
        self._written[source] = now
        task = asyncio.get_running_loop().create_task(self.record(source, self._clock()))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def record(self, source: Source, at: datetime) -> None:
        """Store `at` as the source's last verified delivery (errors are logged, not raised)."""
        if self._redis is not None:
            try:
                await self._redis.set(REDIS_KEY_PREFIX + source.value, iso_timestamp(at) or "")
                return
            except RedisError as exc:
                log.warning("watch.delivery.redis_failed", error=type(exc).__name__)
        values = {
            EVENT_KEY: DELIVERY_KEY_PREFIX + source.value,
            "source": source.value,
            "event_type": DELIVERY_EVENT_TYPE,
            "raw_body": json.dumps({"last_delivery_at": iso_timestamp(at)}),
            "last_attempt_at": iso_timestamp(at),
        }
        try:
            await self._attio.assert_record(
                BRIDGE_EVENTS, matching_attribute=EVENT_KEY, values=values
            )
        except AttioError as exc:
            self._written.pop(source, None)  # try again with the next delivery
            log.warning("watch.delivery.record_failed", source=source.value, error=str(exc))

    async def last(self) -> dict[Source, datetime | None]:
        """Each source's last verified delivery (None: none known). Redis, then Attio."""
        found: dict[Source, datetime | None] = dict.fromkeys(Source)
        if self._redis is not None:
            try:
                values = await self._redis.mget([REDIS_KEY_PREFIX + s.value for s in Source])
            except RedisError as exc:
                log.warning("watch.delivery.redis_failed", error=type(exc).__name__)
            else:
                found = {source: _parse(raw) for source, raw in zip(Source, values, strict=True)}
                if all(found.values()):
                    return found
        rows = await self._attio.query_records(
            BRIDGE_EVENTS, filter={"event_type": DELIVERY_EVENT_TYPE}, limit=len(Source)
        )
        for row in rows:
            key = first_value(row, EVENT_KEY) or ""
            at = _parse(first_value(row, "last_attempt_at"))
            source = next((s for s in Source if key == DELIVERY_KEY_PREFIX + s.value), None)
            if source is not None and at is not None:
                known = found.get(source)
                found[source] = at if known is None or at > known else known
        return found

    async def flush(self) -> None:
        """Wait for the writes in flight (tests, shutdown)."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
