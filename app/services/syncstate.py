"""Sync bookkeeping kept in Attio: each source's watermark and last run, and a run lock.

Attio is the only datastore and the plan allows no further object, so both live in the ledger
object (`bridge_events`) as records of their own, told apart by their key:

- `sync-state:<source>`: the watermark and the last run (start, end, counts, outcome), as JSON
  in `raw_body`. Upserted by its key, so it is one record per source.
- `sync-lock:<source>`: held while a run writes. Taken by a plain create, which Attio rejects
  with `uniqueness_conflict` when the key exists, so of two starts exactly one wins, whichever
  process they run in. The record carries an expiry: a crashed run's lock goes stale and the
  next start takes it over (deleting exactly the stale record it read, then creating again).
  A run refreshes its lock while it lasts and deletes it at the end.

Neither record has a `status`, and the ledger skips their keys, so they are never listed,
replayed, retried or pruned as events.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from app.clients.attio import AttioAPIError, AttioClient, AttioNotFoundError
from app.clients.attio.values import (
    Record,
    first_value,
    iso_timestamp,
    read_timestamp,
    record_id,
)
from app.events.ledger import SYNC_LOCK_KEY_PREFIX, SYNC_STATE_KEY_PREFIX
from app.log import get_logger
from app.schema import BRIDGE_EVENTS, EVENT_KEY

log = get_logger(__name__)

STATE_KEY_PREFIX = SYNC_STATE_KEY_PREFIX
LOCK_KEY_PREFIX = SYNC_LOCK_KEY_PREFIX
STATE_EVENT_TYPE = "sync.state"
LOCK_EVENT_TYPE = "sync.lock"
SYNC_SOURCES = ("braintree", "zoho")
DEFAULT_LOCK_TTL = timedelta(minutes=15)  # refreshed every third of it while a run lasts
_UNIQUENESS_CONFLICT = "uniqueness_conflict"


def utcnow() -> datetime:
    return datetime.now(UTC)


def _body(record: Record) -> dict[str, Any]:
    try:
        data = json.loads(first_value(record, "raw_body") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


# -- the last run and the watermark ----------------------------------------------------------


@dataclass
class LastRun:
    started_at: datetime
    finished_at: datetime | None
    outcome: str  # succeeded | failed (aborted) | dry_run
    counts: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    since: datetime | None = None  # the window's start (None: everything)

    def as_dict(self) -> dict[str, Any]:
        return {
            "started_at": iso_timestamp(self.started_at),
            "finished_at": iso_timestamp(self.finished_at),
            "outcome": self.outcome,
            "counts": self.counts,
            "error": self.error,
            "since": iso_timestamp(self.since),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LastRun | None:
        started = read_timestamp(data.get("started_at"))
        if started is None:
            return None
        counts = data.get("counts")
        error = data.get("error")
        return cls(
            started_at=started,
            finished_at=read_timestamp(data.get("finished_at")),
            outcome=str(data.get("outcome") or "unknown"),
            counts=counts if isinstance(counts, dict) else {},
            error=error if isinstance(error, str) else None,
            since=read_timestamp(data.get("since")),
        )


@dataclass
class SyncState:
    source: str
    watermark: datetime | None = None  # Braintree changes up to here are in Attio
    last_run: LastRun | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "watermark": iso_timestamp(self.watermark),
            "last_run": self.last_run.as_dict() if self.last_run else None,
        }


class SyncStateStore:
    """`sync-state:<source>` records: read one, upsert one (one call each)."""

    def __init__(self, attio: AttioClient) -> None:
        self._attio = attio

    async def load(self, source: str) -> SyncState:
        rows = await self._attio.query_records(
            BRIDGE_EVENTS, filter={EVENT_KEY: STATE_KEY_PREFIX + source}, limit=1
        )
        if not rows:
            return SyncState(source)
        data = _body(rows[0])
        last = data.get("last_run")
        return SyncState(
            source,
            watermark=read_timestamp(data.get("watermark")),
            last_run=LastRun.from_dict(last) if isinstance(last, dict) else None,
        )

    async def save(self, state: SyncState) -> None:
        body = json.dumps(state.as_dict(), sort_keys=True)
        last = state.last_run
        values: dict[str, Any] = {
            EVENT_KEY: STATE_KEY_PREFIX + state.source,
            "source": state.source,
            "event_type": STATE_EVENT_TYPE,
            "raw_body": body,
        }
        if last is not None:
            values["last_attempt_at"] = iso_timestamp(last.finished_at or last.started_at)
        await self._attio.assert_record(BRIDGE_EVENTS, matching_attribute=EVENT_KEY, values=values)

    async def record_run(
        self, source: str, run: LastRun, *, watermark: datetime | None = None
    ) -> SyncState:
        """Store `run` as the last one; move the watermark forward when one is given."""
        state = await self.load(source)
        state.last_run = run
        if watermark is not None and (state.watermark is None or watermark > state.watermark):
            state.watermark = watermark
        await self.save(state)
        return state


# -- the lock ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LockHandle:
    source: str
    owner: str
    record_id: str
    expires_at: datetime


class SyncLock(Protocol):
    """One run at a time per source, across processes (Attio today; Redis would do too)."""

    ttl: timedelta  # a holder that stops refreshing loses the lock after this long

    async def acquire(self, source: str) -> LockHandle | None:
        """The lock, or None when a live run holds it."""
        ...

    async def refresh(self, handle: LockHandle) -> LockHandle: ...

    async def release(self, handle: LockHandle) -> None: ...

    async def holder(self, source: str) -> dict[str, Any] | None:
        """Who holds the lock and until when (None: nobody, or only a stale holder)."""
        ...


class AttioSyncLock:
    """The lock as a `sync-lock:<source>` record; see the module docstring."""

    def __init__(
        self,
        attio: AttioClient,
        *,
        ttl: timedelta = DEFAULT_LOCK_TTL,
        clock: Any = utcnow,
    ) -> None:
        self._attio = attio
        self.ttl = ttl
        self._clock = clock

    def _values(self, source: str, owner: str, expires_at: datetime) -> dict[str, Any]:
        now = self._clock()
        body = {
            "owner": owner,
            "acquired_at": iso_timestamp(now),
            "expires_at": iso_timestamp(expires_at),
        }
        return {
            EVENT_KEY: LOCK_KEY_PREFIX + source,
            "source": source,
            "event_type": LOCK_EVENT_TYPE,
            "raw_body": json.dumps(body, sort_keys=True),
            "last_attempt_at": iso_timestamp(now),
        }

    async def acquire(self, source: str) -> LockHandle | None:
        owner = uuid.uuid4().hex
        for _ in range(2):  # the second try follows a stale lock's removal
            expires_at = self._clock() + self.ttl
            try:
                record = await self._create(self._values(source, owner, expires_at))
            except AttioAPIError as exc:
                if exc.attio_code != _UNIQUENESS_CONFLICT:
                    raise
            else:
                log.info("sync.lock.acquired", source=source)
                return LockHandle(source, owner, record_id(record), expires_at)
            current = await self._read(source)
            if current is None:
                continue  # released between our create and our read: try again
            expires = read_timestamp(_body(current).get("expires_at"))
            if expires is not None and expires > self._clock():
                return None
            log.warning("sync.lock.stale_taken_over", source=source)
            # Another start may have removed it first; its create then decides who holds it.
            with contextlib.suppress(AttioNotFoundError):
                await self._attio.delete_record(BRIDGE_EVENTS, record_id(current))
        return None

    async def refresh(self, handle: LockHandle) -> LockHandle:
        expires_at = self._clock() + self.ttl
        await self._attio.update_record(
            BRIDGE_EVENTS, handle.record_id, self._values(handle.source, handle.owner, expires_at)
        )
        return LockHandle(handle.source, handle.owner, handle.record_id, expires_at)

    async def release(self, handle: LockHandle) -> None:
        try:
            await self._attio.delete_record(BRIDGE_EVENTS, handle.record_id)
        except AttioNotFoundError:
            log.warning("sync.lock.already_gone", source=handle.source)

    async def holder(self, source: str) -> dict[str, Any] | None:
        current = await self._read(source)
        if current is None:
            return None
        body = _body(current)
        expires = read_timestamp(body.get("expires_at"))
        if expires is None or expires <= self._clock():
            return None
        return {"acquired_at": body.get("acquired_at"), "expires_at": body.get("expires_at")}

    async def _create(self, values: dict[str, Any]) -> Record:
        # A plain create (not an assert): the unique key's conflict is what makes it a lock.
        body = {"data": {"values": values}}
        path = f"/v2/objects/{BRIDGE_EVENTS}/records"
        return (await self._attio.request("POST", path, json=body, idempotent=False))["data"]

    async def _read(self, source: str) -> Record | None:
        rows = await self._attio.query_records(
            BRIDGE_EVENTS, filter={EVENT_KEY: LOCK_KEY_PREFIX + source}, limit=1
        )
        return rows[0] if rows else None
