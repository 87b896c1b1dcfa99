"""What the console's pages show and do, without HTTP: the routes only render and redirect.

Failed events reuse the ledger and the `Replayer` the admin API uses; syncs reuse the sync
runners and their `start_sync`; the overview reads a `HealthProvider`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from app.clients.redis import Redis
from app.config import Settings
from app.errors import NotFoundError
from app.events.ledger import Ledger, LedgerEntry, LedgerStatus
from app.events.model import Source
from app.events.replay import Replayer, ReplayReport, ReplayResult, ReplayStatus
from app.log import redactor
from app.services.console.auth import ConsoleAuth
from app.services.console.chart import Chart, build_chart
from app.services.console.health import HealthProvider, HealthReport
from app.services.syncrunner import SyncRun, SyncRunner
from app.services.syncstate import LastRun

PAGE_SIZE = 25
MAX_MATCHING = 1000  # "replay all that match" takes at most this many (as the admin API)
COUNT_NAMES = ("created", "updated", "unchanged", "failed")

SyncStarter = Callable[[bool], Awaitable[SyncRun]]


@dataclass(frozen=True)
class EventFilter:
    status: LedgerStatus | None = LedgerStatus.failed
    source: Source | None = None
    event_type: str | None = None

    def query(self) -> dict[str, str]:
        """The filter as query parameters (links to other pages keep it)."""
        return {
            "status": self.status.value if self.status else "",
            "source": self.source.value if self.source else "",
            "event_type": self.event_type or "",
        }


@dataclass(frozen=True)
class EventPage:
    entries: list[LedgerEntry]
    page: int
    has_next: bool


@dataclass(frozen=True)
class EventView:
    entry: LedgerEntry
    body: str  # pretty-printed when JSON, secrets redacted (the template escapes it)
    headers: dict[str, Any]
    query: str


@dataclass
class RunRow:
    label: str  # "this process" or "recorded in Attio"
    started_at: datetime | None
    finished_at: datetime | None
    outcome: str
    counts: dict[str, int]
    error: str | None = None

    @property
    def seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


@dataclass
class SyncView:
    source: str
    running: bool
    dry_run: bool = False
    phase: str | None = None
    planned: int = 0
    finished: int = 0
    runs: list[RunRow] = field(default_factory=list)
    available: bool = True


def sum_counts(counts: Any) -> dict[str, int]:
    """created/updated/unchanged/failed of a run's counts: the totals they carry (docs/syncs.md),
    or, for a run recorded before counts carried totals, the sum over its groups."""
    totals = dict.fromkeys(COUNT_NAMES, 0)
    if not isinstance(counts, dict):
        return totals
    if any(isinstance(counts.get(name), int) for name in COUNT_NAMES):
        return {name: int(counts.get(name) or 0) for name in COUNT_NAMES}
    for name, value in counts.items():
        if isinstance(value, dict) and name != "by_source":
            for inner, count in sum_counts(value).items():
                totals[inner] += count
    return totals


def _pretty(body: str) -> str:
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:
        return body


class ConsoleService:
    def __init__(
        self,
        *,
        ledger: Ledger,
        replayer: Replayer,
        health: HealthProvider,
        sync_runners: Mapping[str, SyncRunner],
        sync_starters: Mapping[str, SyncStarter],
    ) -> None:
        self._ledger = ledger
        self._replayer = replayer
        self.health = health
        self._runners = sync_runners
        self._starters = sync_starters

    @property
    def sync_sources(self) -> list[str]:
        return list(self._runners)

    # -- overview ----------------------------------------------------------------------------

    async def overview(self) -> tuple[HealthReport, Chart]:
        report = await self.health.report()
        return report, build_chart(report.deliveries)

    # -- failed events -----------------------------------------------------------------------

    async def events(self, selection: EventFilter, page: int) -> EventPage:
        """One page of the ledger, newest attempt first (the ledger reads from the start: pages
        far in cost more reads, and the filter keeps lists short in practice)."""
        page = max(1, page)
        wanted = page * PAGE_SIZE + 1
        entries = await self._matching(selection, limit=min(wanted, MAX_MATCHING + 1))
        chunk = entries[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        return EventPage(chunk, page, has_next=len(entries) > page * PAGE_SIZE)

    async def _matching(self, selection: EventFilter, *, limit: int) -> list[LedgerEntry]:
        return await self._ledger.list_entries(
            status=selection.status,
            source=selection.source,
            event_type=selection.event_type,
            limit=limit,
        )

    async def event(self, event_key: str) -> EventView:
        entry = await self._ledger.get(event_key)
        if entry is None:
            raise NotFoundError(f"No ledger record with event_key {event_key!r}")
        # A stored body can hold a provider's shared token (Zoho CRM echoes it): redact.
        return EventView(
            entry=entry,
            body=str(redactor.redact(_pretty(entry.raw.body))),
            headers=redactor.redact(entry.raw.headers),
            query=str(redactor.redact(entry.raw.query)),
        )

    async def replay_keys(self, keys: Sequence[str]) -> ReplayReport:
        report = ReplayReport()
        for key in dict.fromkeys(keys):  # once each, in the order given
            try:
                result = await self._replayer.replay_key(key)
            except NotFoundError:  # gone since the page was drawn (pruned, or a stale form)
                result = ReplayResult(key, ReplayStatus.refused, "no ledger record with this key")
            report.results.append(result)
        return report

    async def dry_run_matching(self, selection: EventFilter) -> ReplayReport:
        """What `replay_matching` would do, as the admin API's dry run says it: each stored
        request verified again (`would_replay`, or `refused` with the reason), nothing written."""
        entries = await self._matching(selection, limit=MAX_MATCHING)
        return await self._replayer.replay_many(entries, dry_run=True)

    async def replay_matching(self, selection: EventFilter) -> ReplayReport:
        entries = await self._matching(selection, limit=MAX_MATCHING)
        return await self._replayer.replay_many(entries)

    # -- syncs -------------------------------------------------------------------------------

    async def syncs(self) -> list[SyncView]:
        return [await self._sync_view(name, runner) for name, runner in self._runners.items()]

    async def sync(self, source: str) -> SyncView:
        runner = self._runners.get(source)
        if runner is None:
            raise NotFoundError(f"No sync for {source!r}")
        return await self._sync_view(source, runner)

    async def _sync_view(self, name: str, runner: SyncRunner) -> SyncView:
        view = SyncView(source=name, running=runner.running)
        run = runner.last
        if run is not None:
            progress = run.progress.as_dict()
            view.dry_run = bool(progress.get("dry_run"))
            view.phase = str(progress.get("phase") or run.status.value)
            view.planned = int(progress.get("planned") or 0)
            view.finished = int(progress.get("finished") or 0)
            summary = run.report.as_dict() if run.report else {}
            view.runs.append(
                RunRow(
                    label="dry run, this process" if view.dry_run else "latest, this process",
                    started_at=run.started_at,
                    finished_at=run.finished_at,
                    outcome=run.status.value,
                    counts=sum_counts(summary.get("counts") or progress.get("counts")),
                    error=run.error or summary.get("error"),
                )
            )
        state = await runner.load_state()
        last: LastRun | None = state.last_run if state else None
        if last is not None and (run is None or last.started_at != run.started_at):
            view.runs.append(
                RunRow(
                    label="last recorded run",
                    started_at=last.started_at,
                    finished_at=last.finished_at,
                    outcome=last.outcome,
                    counts=sum_counts(last.counts),
                    error=last.error,
                )
            )
        return view

    async def start_sync(self, source: str, *, dry_run: bool) -> SyncRun:
        starter = self._starters.get(source)
        if starter is None:
            raise NotFoundError(f"No sync for {source!r}")
        return await starter(dry_run)


class SyncService(Protocol):
    """What the console needs of a source's service to show and start its syncs."""

    @property
    def sync_runner(self) -> SyncRunner: ...

    async def start_sync(self, *, dry_run: bool = False) -> SyncRun: ...


@dataclass(frozen=True)
class Console:
    """The console's parts: sign-in and the page logic."""

    auth: ConsoleAuth
    service: ConsoleService
    secure_cookie: bool


def build_console(
    settings: Settings,
    *,
    ledger: Ledger,
    replayer: Replayer,
    health: HealthProvider,
    syncs: Mapping[str, SyncService],
    redis: Redis | None,
) -> Console:
    """The console over the bridge's parts. `redis` (queue mode's connection) shares sign-outs
    between processes."""
    token = settings.admin_token.get_secret_value() if settings.admin_token else ""
    secret = settings.console_session_secret

    def starter(sync: SyncService) -> SyncStarter:
        async def start(dry_run: bool) -> SyncRun:
            return await sync.start_sync(dry_run=dry_run)

        return start

    return Console(
        auth=ConsoleAuth(
            token, session_secret=secret.get_secret_value() if secret else None, redis=redis
        ),
        service=ConsoleService(
            ledger=ledger,
            replayer=replayer,
            health=health,
            sync_runners={name: sync.sync_runner for name, sync in syncs.items()},
            sync_starters={name: starter(sync) for name, sync in syncs.items()},
        ),
        secure_cookie=settings.is_production,
    )
