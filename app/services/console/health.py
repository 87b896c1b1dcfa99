"""What the console's overview shows: one card per system, alerts firing, ledger counts.

The overview reads a `HealthProvider`. `BridgeHealth` builds the report from what the bridge
knows in this process today (webhook routes, ledger, sync state, queue, deliveries). The
runtime watch checks (`attio-bridge watch`, GET /admin/health) plug in through `extra_checks`:
a `ChecksSource` whose checks are merged into the cards by their id, replacing any check of the
same id built here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from app.events.deliveries import DeliveryHistory, DeliveryRecorder
from app.events.ledger import Ledger, LedgerEntry, LedgerStatus
from app.events.model import Source
from app.events.queue import EventQueue, QueueMode
from app.services.syncrunner import SyncRunner

LEDGER_COUNT_CAP = 1000  # counted up to this; more shows as "1000+"
STUCK_AFTER = timedelta(hours=24)
QUEUE_OLDEST_WARNING_SECONDS = 300.0
SYSTEMS = ("attio", "braintree", "zoho", "queue")


class CheckState(StrEnum):
    ok = "ok"
    warning = "warning"
    critical = "critical"


_SEVERITY = {CheckState.ok: 0, CheckState.warning: 1, CheckState.critical: 2}


@dataclass(frozen=True)
class Check:
    """One check, as `GET /admin/health` reports it: {id, state, since, message, action}."""

    id: str
    state: CheckState
    message: str
    since: datetime | None = None
    action: str | None = None  # what to do

    @property
    def system(self) -> str:
        """The card it belongs on: `zoho.crm_channel` -> zoho, `sync.braintree` -> braintree;
        `ledger.*` goes on the card of no system (the alerts and ledger panels show it)."""
        head, _, rest = self.id.partition(".")
        if head == "sync":
            return rest
        return head


class ChecksSource(Protocol):
    """The watch registry's last pass (issue "Never silent"), when there is one."""

    async def checks(self) -> list[Check]: ...


@dataclass
class SystemCard:
    name: str  # attio | braintree | zoho | queue
    title: str
    webhook: str  # "enabled", "disabled: ... unset", or the queue mode
    last_verified: datetime | None = None
    checks: list[Check] = field(default_factory=list)
    facts: list[tuple[str, str]] = field(default_factory=list)

    @property
    def state(self) -> CheckState:
        return max((c.state for c in self.checks), key=_SEVERITY.__getitem__, default=CheckState.ok)


@dataclass
class HealthReport:
    generated_at: datetime
    systems: list[SystemCard]
    alerts: list[Check]  # every check not ok, worst first
    ledger_counts: dict[str, str]  # status -> count ("1000+" past the cap)
    deliveries: DeliveryHistory


class HealthProvider(Protocol):
    async def report(self) -> HealthReport: ...


_WEBHOOK_SECRET = {
    Source.attio: "ATTIO_WEBHOOK_SECRET",
    Source.braintree: "BRAINTREE_* credentials",
    Source.zoho: "ZOHO_WEBHOOK_SECRET",
}
_TITLES = {"attio": "Attio", "braintree": "Braintree", "zoho": "Zoho", "queue": "Queue"}


class BridgeHealth:
    def __init__(
        self,
        *,
        ledger: Ledger,
        sources: Mapping[Source, object],
        sync_runners: Mapping[str, SyncRunner],
        queue: EventQueue | None,
        deliveries: DeliveryRecorder,
        extra_checks: ChecksSource | None = None,
    ) -> None:
        self._ledger = ledger
        self._sources = sources
        self._runners = sync_runners
        self._queue = queue
        self._deliveries = deliveries
        # The single place the watch registry's checks come in.
        self.extra_checks = extra_checks

    async def report(self) -> HealthReport:
        now = datetime.now(UTC)
        lists, history, syncs, queue = await asyncio.gather(
            asyncio.gather(
                *(
                    self._ledger.list_entries(status=status, limit=LEDGER_COUNT_CAP)
                    for status in LedgerStatus
                )
            ),
            self._deliveries.history(),
            asyncio.gather(*(runner.load_state() for runner in self._runners.values())),
            self._queue_card(),
        )
        by_status = dict(zip(LedgerStatus, lists, strict=True))
        checks = self._ledger_checks(by_status, now)
        for name, state in zip(self._runners, syncs, strict=True):
            run = state.last_run if state else None
            if run is not None and run.outcome == "failed":
                checks.append(
                    Check(
                        f"sync.{name}",
                        CheckState.warning,
                        f"The last {name} sync failed: {run.error or 'no error recorded'}",
                        since=run.finished_at or run.started_at,
                        action="Open Syncs, read the error, start a run again.",
                    )
                )
        queue_card, queue_checks = queue
        checks += queue_checks
        if self.extra_checks is not None:
            watched = await self.extra_checks.checks()
            ids = {c.id for c in watched}
            checks = [c for c in checks if c.id not in ids] + watched
        cards = [self._source_card(source, history) for source in Source] + [queue_card]
        for card in cards:
            card.checks = [c for c in checks if c.system == card.name]
        alerts = sorted(
            (c for c in checks if c.state is not CheckState.ok),
            key=lambda c: -_SEVERITY[c.state],
        )
        counts = {
            status.value: f"{LEDGER_COUNT_CAP}+" if len(e) >= LEDGER_COUNT_CAP else str(len(e))
            for status, e in by_status.items()
        }
        return HealthReport(now, cards, alerts, counts, history)

    def _source_card(self, source: Source, history: DeliveryHistory) -> SystemCard:
        enabled = source in self._sources
        webhook = "enabled" if enabled else f"disabled ({_WEBHOOK_SECRET[source]} not set)"
        return SystemCard(
            name=source.value,
            title=_TITLES[source.value],
            webhook=webhook,
            last_verified=history.last_verified.get(source),
        )

    @staticmethod
    def _ledger_checks(
        by_status: dict[LedgerStatus, list[LedgerEntry]], now: datetime
    ) -> list[Check]:
        checks: list[Check] = []
        stopped = by_status[LedgerStatus.dead] + by_status[LedgerStatus.needs_attention]
        if stopped:
            per_source: dict[str, int] = {}
            for entry in stopped:
                per_source[entry.source.value] = per_source.get(entry.source.value, 0) + 1
            counts = ", ".join(f"{n} {s}" for s, n in sorted(per_source.items()))
            checks.append(
                Check(
                    "ledger.dead",
                    CheckState.critical,
                    f"{len(stopped)} event(s) dead or needing attention ({counts})",
                    since=min(
                        (e.first_attempt_at for e in stopped if e.first_attempt_at), default=None
                    ),
                    action="Open Failed events, read the errors, replay what can go through.",
                )
            )
        stuck = [
            e
            for e in by_status[LedgerStatus.failed]
            if e.first_attempt_at is not None and now - e.first_attempt_at > STUCK_AFTER
        ]
        if stuck:
            checks.append(
                Check(
                    "ledger.stuck",
                    CheckState.warning,
                    f"{len(stuck)} failed event(s) older than 24 h",
                    since=min(e.first_attempt_at for e in stuck if e.first_attempt_at),
                    action="Check that the retry-due cron job runs; replay them from here.",
                )
            )
        return checks

    async def _queue_card(self) -> tuple[SystemCard, list[Check]]:
        if self._queue is None:
            card = SystemCard("queue", "Queue", webhook="inline (REDIS_URL not set)")
            return card, []
        mode = await self._queue.check()
        card = SystemCard("queue", "Queue", webhook=mode.value)
        checks: list[Check] = []
        if mode is QueueMode.fallback_inline:
            checks.append(
                Check(
                    "queue",
                    CheckState.critical,
                    "Redis does not answer: deliveries are processed inline",
                    action="Check the Redis (Key Value) service and REDIS_URL.",
                )
            )
            return card, checks
        stats = await self._queue.refresh_gauges()
        if stats is not None:
            facts: dict[str, Any] = stats.as_dict()
            card.facts = [
                ("depth", str(facts["depth"])),
                ("pending", str(facts["pending"])),
                ("oldest", f"{facts['oldest_age_seconds']:.0f} s"),
                ("workers", str(len(stats.consumers))),
            ]
            if stats.oldest_age_seconds > QUEUE_OLDEST_WARNING_SECONDS:
                checks.append(
                    Check(
                        "queue",
                        CheckState.warning,
                        f"The oldest pending delivery waits {stats.oldest_age_seconds:.0f} s",
                        action="Check that `attio-bridge worker` runs.",
                    )
                )
        return card, checks
