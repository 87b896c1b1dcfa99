"""Replaying ledger records: manual (admin API, CLI) and scheduled (`events retry-due`).

A replay rebuilds the event from the stored raw request through the same source that handled
the live delivery, so the stored signature is verified again: a record edited in Attio's UI
cannot inject data. In queue mode a verified replay is queued (by its event_key, with the
record's state then) and a worker replays it, verifying once more, unless the record has moved
on meanwhile; a replay of a record already waiting in the queue is not queued again. If Redis
cannot take it, it is replayed here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from app.errors import BridgeError, NotFoundError
from app.events.ledger import Ledger, LedgerEntry, LedgerStatus
from app.events.model import Outcome, Source
from app.events.processor import EventProcessor
from app.events.queue import REPLAY_CHANNEL, EventQueue, QueueUnavailableError
from app.events.sources import EventSource, stored_key_event
from app.log import get_logger

log = get_logger(__name__)


def ledger_state(entry: LedgerEntry) -> str:
    """What a queued replay expects to find: a record replayed or retried since differs."""
    return f"{entry.status.value}:{entry.attempts}"


class ReplayStatus(StrEnum):
    replayed = "replayed"  # processed (or nothing left to do); the record is now `replayed`
    failed = "failed"  # failed again; the record holds the new error and next attempt
    dead = "dead"  # failed again and out of retries (or permanent)
    refused = "refused"  # the stored request does not verify or no longer holds the event
    would_replay = "would_replay"  # dry run
    queued = "queued"  # queue mode: a worker replays it


@dataclass(frozen=True)
class ReplayResult:
    event_key: str
    status: ReplayStatus
    detail: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"event_key": self.event_key, "status": self.status.value, "detail": self.detail}


@dataclass
class ReplayReport:
    results: list[ReplayResult] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counts = {status.value: 0 for status in ReplayStatus}
        for result in self.results:
            counts[result.status.value] += 1
        return counts

    def as_dict(self) -> dict[str, Any]:
        return {
            "counts": self.counts(),
            "results": [result.as_dict() for result in self.results],
        }


class Replayer:
    def __init__(
        self,
        ledger: Ledger,
        processor: EventProcessor,
        sources: Mapping[Source, EventSource],
        *,
        by_key_prefix: Mapping[str, EventSource | None] | None = None,
        queue: EventQueue | None = None,
    ) -> None:
        self._ledger = ledger
        self._queue = queue
        self._processor = processor
        self._sources = sources
        # Records a provider's main source cannot rebuild (Zoho CRM notifications, sync
        # failures) are recognised by their key prefix; None means that path is disabled.
        self._by_key_prefix = dict(by_key_prefix or {})

    def _source_for(self, entry: LedgerEntry) -> EventSource | None:
        for prefix, source in self._by_key_prefix.items():
            if entry.event_key.startswith(prefix):
                return source
        return self._sources.get(entry.source)

    async def replay_key(self, event_key: str, *, dry_run: bool = False) -> ReplayResult:
        entry = await self._ledger.get(event_key)
        if entry is None:
            raise NotFoundError(f"No ledger record with event_key {event_key!r}")
        return await self.replay(entry, dry_run=dry_run)

    async def replay_many(
        self, entries: Sequence[LedgerEntry], *, dry_run: bool = False
    ) -> ReplayReport:
        # One at a time: replays share Attio's write budget with live webhooks.
        return ReplayReport([await self.replay(entry, dry_run=dry_run) for entry in entries])

    async def retry_due(self, *, limit: int = 500) -> ReplayReport:
        """Re-attempt failed events whose next attempt time has passed."""
        return await self.replay_many(await self._ledger.due(limit=limit))

    async def replay(
        self, entry: LedgerEntry, *, dry_run: bool = False, inline: bool = False
    ) -> ReplayResult:
        """Verify the stored request and process its event (`inline`: here, even in queue mode)."""
        key = entry.event_key
        source = self._source_for(entry)
        if source is None:
            return ReplayResult(key, ReplayStatus.refused, f"{entry.source} webhooks are disabled")
        try:
            events = await source.events_from(entry.raw)
        except BridgeError as exc:
            log.warning("replay.refused", event_key=key, error=exc.message)
            return ReplayResult(
                key,
                ReplayStatus.refused,
                f"stored request does not verify or parse ({exc.code}): {exc.message}",
            )
        event = next((e for e in events if e.event_key == key), None) or stored_key_event(
            events, key
        )
        if event is None:
            return ReplayResult(key, ReplayStatus.refused, "stored request holds no such event")
        if dry_run:
            return ReplayResult(key, ReplayStatus.would_replay, entry.status.value)
        if self._queue is not None and not inline:
            try:
                await self._queue.enqueue(
                    REPLAY_CHANNEL, entry.raw, event_key=key, ledger_state=ledger_state(entry)
                )
            except QueueUnavailableError:
                pass  # replayed here instead
            else:
                return ReplayResult(key, ReplayStatus.queued)
        outcome = await self._processor.process(event, previous=entry)
        if outcome is not Outcome.recorded:
            return ReplayResult(key, ReplayStatus.replayed, outcome.value)
        after = await self._ledger.get(key)
        dead = after is not None and after.status is LedgerStatus.dead
        return ReplayResult(
            key, ReplayStatus.dead if dead else ReplayStatus.failed, after.error if after else None
        )
