"""The event ledger: failed, retried and replayed events as records of Attio's `bridge_events`.

Attio is the only datastore, so the ledger is just another object there, upserted by the
event's `event_key`. A record holds the raw request so a replay can verify it again.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from app.clients.attio import AttioClient
from app.clients.attio.values import (
    Record,
    first_value,
    iso_timestamp,
    record_id,
    timestamp_value,
)
from app.events.model import RawRequest, Source, WebhookEvent
from app.log import get_logger
from app.schema import BRIDGE_EVENTS, EVENT_KEY

log = get_logger(__name__)

MAX_ERROR_CHARS = 2000


class LedgerStatus(StrEnum):
    failed = "failed"  # will be retried by `events retry-due` at next_attempt_at
    dead = "dead"  # permanent error or retries exhausted: manual replay only
    replayed = "replayed"  # failed once, succeeded later
    needs_attention = "needs_attention"  # processed, but an operator should look at it
    replay = "replay"  # set by an operator in Attio: the bridge replays it, then settles it


# Sync bookkeeping (`app.services.syncstate`) shares the object: a watermark record and a run
# lock per source. They are not events: listing, replay, retry-due and prune never see them.
SYNC_STATE_KEY_PREFIX = "sync-state:"
SYNC_LOCK_KEY_PREFIX = "sync-lock:"


def is_bookkeeping_key(event_key: str) -> bool:
    return event_key.startswith((SYNC_STATE_KEY_PREFIX, SYNC_LOCK_KEY_PREFIX))


# What `events prune` may delete: records whose story is over. The others still ask for work.
SETTLED_STATUSES = frozenset({LedgerStatus.replayed})
_PRUNE_CONCURRENCY = 8  # the client's write limiter is what really paces the deletes
# Deletes per prune run: about 40 s of Attio's write budget; a backlog takes a few daily runs.
DEFAULT_PRUNE_LIMIT = 1000
MAX_PRUNE_LIMIT = 10_000


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RetrySchedule:
    """Delays (seconds) before each retry; after the last one an event is dead."""

    delays: tuple[int, ...] = (60, 300, 1800, 7200, 43200)

    def next_attempt_at(self, attempts: int, now: datetime) -> datetime | None:
        """When to try again after `attempts` failed attempts, or None when out of retries."""
        if attempts < 1 or attempts > len(self.delays):
            return None
        return now + timedelta(seconds=self.delays[attempts - 1])


@dataclass(frozen=True)
class LedgerEntry:
    record_id: str
    event_key: str
    source: Source
    event_type: str
    status: LedgerStatus
    error: str | None
    attempts: int
    first_attempt_at: datetime | None
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    occurred_at: datetime | None
    raw: RawRequest

    @classmethod
    def from_record(cls, record: Record) -> LedgerEntry:
        headers_text = first_value(record, "raw_headers") or "{}"
        try:
            headers = json.loads(headers_text)
        except ValueError:
            headers = {}
        return cls(
            record_id=record_id(record),
            event_key=first_value(record, "event_key") or "",
            source=Source(first_value(record, "source")),
            event_type=first_value(record, "event_type") or "",
            status=LedgerStatus(first_value(record, "status") or LedgerStatus.failed),
            error=first_value(record, "error"),
            attempts=int(first_value(record, "attempts") or 0),
            first_attempt_at=timestamp_value(record, "first_attempt_at"),
            last_attempt_at=timestamp_value(record, "last_attempt_at"),
            next_attempt_at=timestamp_value(record, "next_attempt_at"),
            occurred_at=timestamp_value(record, "occurred_at"),
            raw=RawRequest(
                body=first_value(record, "raw_body") or "",
                headers=headers if isinstance(headers, dict) else {},
                query=first_value(record, "raw_query") or "",
            ),
        )

    def summary(self) -> dict[str, Any]:
        """What the admin API and CLI show in lists (no raw request)."""
        return {
            "event_key": self.event_key,
            "source": self.source.value,
            "event_type": self.event_type,
            "status": self.status.value,
            "error": self.error,
            "attempts": self.attempts,
            "first_attempt_at": iso_timestamp(self.first_attempt_at),
            "last_attempt_at": iso_timestamp(self.last_attempt_at),
            "next_attempt_at": iso_timestamp(self.next_attempt_at),
            "occurred_at": iso_timestamp(self.occurred_at),
        }

    def detail(self) -> dict[str, Any]:
        return {
            **self.summary(),
            "record_id": self.record_id,
            "raw_request": {
                "body": self.raw.body,
                "headers": self.raw.headers,
                "query": self.raw.query,
            },
        }


class Ledger:
    def __init__(
        self,
        client: AttioClient,
        schedule: RetrySchedule | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
        failed_keys_ttl: float = 60.0,
    ) -> None:
        self._client = client
        self.schedule = schedule or RetrySchedule()
        self.clock = clock
        self._failed_keys: set[str] = set()
        self._failed_keys_at = float("-inf")
        self._failed_keys_ttl = failed_keys_ttl

    # -- reads -------------------------------------------------------------------------------

    async def get(self, event_key: str) -> LedgerEntry | None:
        if is_bookkeeping_key(event_key):
            return None
        rows = await self._client.query_records(
            BRIDGE_EVENTS, filter={EVENT_KEY: event_key}, limit=1
        )
        return LedgerEntry.from_record(rows[0]) if rows else None

    async def list_entries(
        self,
        *,
        status: LedgerStatus | None = None,
        source: Source | None = None,
        event_type: str | None = None,
        limit: int = 100,
    ) -> list[LedgerEntry]:
        """Newest attempts first."""
        conditions: dict[str, Any] = {}
        if status:
            conditions["status"] = status.value
        if source:
            conditions["source"] = source.value
        if event_type:
            conditions["event_type"] = event_type
        entries: list[LedgerEntry] = []
        sorts = [{"direction": "desc", "attribute": "last_attempt_at"}]
        async for row in self._client.iter_records(
            BRIDGE_EVENTS, filter=conditions or None, sorts=sorts, page_size=min(limit, 500)
        ):
            if is_bookkeeping_key(first_value(row, EVENT_KEY) or ""):
                continue
            entries.append(LedgerEntry.from_record(row))
            if len(entries) >= limit:
                break
        return entries

    async def due(self, *, limit: int = 500) -> list[LedgerEntry]:
        """Failed events whose next attempt time has passed, oldest first."""
        conditions = {
            "$and": [
                {"status": LedgerStatus.failed.value},
                {"next_attempt_at": {"$lte": iso_timestamp(self.clock())}},
            ]
        }
        sorts = [{"direction": "asc", "attribute": "next_attempt_at"}]
        rows = await self._client.query_records(
            BRIDGE_EVENTS, filter=conditions, sorts=sorts, limit=limit
        )
        return [LedgerEntry.from_record(row) for row in rows]

    async def settled_before(
        self,
        cutoff: datetime,
        statuses: Collection[LedgerStatus] = SETTLED_STATUSES,
        *,
        limit: int = DEFAULT_PRUNE_LIMIT,
    ) -> list[LedgerEntry]:
        """At most `limit` settled records whose last attempt is older than `cutoff`, oldest
        first."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        unsettled = set(statuses) - SETTLED_STATUSES
        if unsettled or not statuses:
            raise ValueError(f"not settled statuses: {sorted(unsettled) or 'none given'}")
        conditions = {
            "$and": [
                {"$or": [{"status": status.value} for status in sorted(statuses)]},
                {"last_attempt_at": {"$lt": iso_timestamp(cutoff)}},
            ]
        }
        sorts = [{"direction": "asc", "attribute": "last_attempt_at"}]
        entries: list[LedgerEntry] = []
        async for row in self._client.iter_records(
            BRIDGE_EVENTS, filter=conditions, sorts=sorts, page_size=min(limit, 500)
        ):
            entries.append(LedgerEntry.from_record(row))
            if len(entries) >= limit:
                break
        return entries

    async def delete(self, entries: Sequence[LedgerEntry]) -> None:
        """Delete these records (one write each), a few at a time under the write limiter."""
        slots = asyncio.Semaphore(_PRUNE_CONCURRENCY)

        async def delete_one(entry: LedgerEntry) -> None:
            async with slots:
                await self._client.delete_record(BRIDGE_EVENTS, entry.record_id)

        await asyncio.gather(*(delete_one(entry) for entry in entries))

    async def is_failed(self, event_key: str) -> bool:
        """Whether the ledger holds this key as failed, from a set refreshed once a minute.

        Checked on every success so that a redelivered failed event gets its record updated,
        without a read per event. A failure recorded by another instance within the last
        minute may be missed; `retry-due` then settles it (replays are idempotent).
        """
        now = time.monotonic()
        if now - self._failed_keys_at >= self._failed_keys_ttl:
            self._failed_keys_at = now
            self._failed_keys = {
                first_value(row, "event_key")
                async for row in self._client.iter_records(
                    BRIDGE_EVENTS, filter={"status": LedgerStatus.failed.value}
                )
            }
        return event_key in self._failed_keys

    # -- writes ------------------------------------------------------------------------------

    async def record_failure(
        self, event: WebhookEvent, error: str, *, permanent: bool, previous: LedgerEntry | None
    ) -> LedgerEntry:
        """Write (or update) the event's record as failed, or dead when it cannot succeed."""
        now = self.clock()
        attempts = (previous.attempts if previous else 0) + 1
        next_at = None if permanent else self.schedule.next_attempt_at(attempts, now)
        status = LedgerStatus.failed if next_at else LedgerStatus.dead
        first_at = previous.first_attempt_at if previous else None
        values = {
            **self._event_values(event),
            "status": status.value,
            "error": error[:MAX_ERROR_CHARS],
            "attempts": attempts,
            "first_attempt_at": iso_timestamp(first_at or now),
            "last_attempt_at": iso_timestamp(now),
            "next_attempt_at": iso_timestamp(next_at) if next_at else [],
        }
        record = await self._client.assert_record(
            BRIDGE_EVENTS, matching_attribute=EVENT_KEY, values=values
        )
        if status is LedgerStatus.failed:
            self._failed_keys.add(event.event_key)
        else:
            self._failed_keys.discard(event.event_key)
        log.warning(
            "ledger.event.recorded", status=status.value, attempts=attempts, **event.log_fields()
        )
        return LedgerEntry.from_record(record)

    async def mark_succeeded(self, event: WebhookEvent, previous: LedgerEntry | None) -> None:
        """A previously failed event went through: its record becomes `replayed`."""
        now = self.clock()
        values = {
            **self._event_values(event),
            "status": LedgerStatus.replayed.value,
            "attempts": (previous.attempts if previous else 0) + 1,
            "last_attempt_at": iso_timestamp(now),
            "next_attempt_at": [],
        }
        await self._client.assert_record(BRIDGE_EVENTS, matching_attribute=EVENT_KEY, values=values)
        self._failed_keys.discard(event.event_key)
        log.info("ledger.event.replayed", **event.log_fields())

    async def record_attention(self, event: WebhookEvent, reason: str) -> None:
        """Leave a record an operator should look at (the event itself was handled)."""
        now = self.clock()
        values = {
            **self._event_values(event),
            "status": LedgerStatus.needs_attention.value,
            "error": reason[:MAX_ERROR_CHARS],
            "attempts": 1,
            "first_attempt_at": iso_timestamp(now),
            "last_attempt_at": iso_timestamp(now),
        }
        await self._client.assert_record(BRIDGE_EVENTS, matching_attribute=EVENT_KEY, values=values)
        log.warning("ledger.event.needs_attention", reason=reason, **event.log_fields())

    @staticmethod
    def _event_values(event: WebhookEvent) -> dict[str, Any]:
        return {
            "event_key": event.event_key,
            "source": event.source.value,
            "event_type": event.event_type,
            "occurred_at": iso_timestamp(event.occurred_at) if event.occurred_at else [],
            "raw_body": event.raw.body,
            "raw_headers": event.raw.headers_json(),
            "raw_query": event.raw.query,
        }
