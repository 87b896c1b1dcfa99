"""What the console's overview shows: one card per system, alerts firing, ledger counts.

The overview reads a `HealthProvider`. `BridgeHealth` builds the report from the watch
checks (`attio-bridge watch`, the same pass GET /admin/health answers: no check is written
twice) and what the bridge knows besides (webhook routes, ledger counts, queue facts,
deliveries).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from app.clients.attio.values import read_timestamp
from app.events.delivery_counts import DeliveryHistory, DeliveryRecorder
from app.events.ledger import Ledger, LedgerStatus
from app.events.model import Source
from app.events.queue import EventQueue, QueueMode
from app.services.watch import Watch

LEDGER_COUNT_CAP = 1000  # counted up to this; more shows as "1000+"
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
    """Where the checks come from: the watch registry (`WatchChecks`)."""

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


class WatchChecks:
    """The watch registry's last pass (or one run now, without alerts) as console checks."""

    def __init__(self, watch: Watch | None) -> None:
        self._watch = watch  # None: a bridge built without one (no checks to show)

    async def checks(self) -> list[Check]:
        if self._watch is None:
            return []
        report = await self._watch.latest()
        found = []
        for row in report["checks"]:
            if row["state"] not in CheckState.__members__:
                continue  # skipped: not configured here
            found.append(
                Check(
                    row["check"],
                    CheckState(row["state"]),
                    row["message"],
                    since=read_timestamp(row.get("since")),
                    action=row.get("action") or None,
                )
            )
        return found


class BridgeHealth:
    def __init__(
        self,
        *,
        ledger: Ledger,
        sources: Mapping[Source, object],
        queue: EventQueue | None,
        deliveries: DeliveryRecorder,
        checks: ChecksSource,
    ) -> None:
        self._ledger = ledger
        self._sources = sources
        self._queue = queue
        self._deliveries = deliveries
        self._checks = checks

    async def report(self) -> HealthReport:
        now = datetime.now(UTC)
        lists, history, queue_card, checks = await asyncio.gather(
            asyncio.gather(
                *(
                    self._ledger.list_entries(status=status, limit=LEDGER_COUNT_CAP)
                    for status in LedgerStatus
                )
            ),
            self._deliveries.history(),
            self._queue_card(),
            self._checks.checks(),
        )
        by_status = dict(zip(LedgerStatus, lists, strict=True))
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

    async def _queue_card(self) -> SystemCard:
        if self._queue is None:
            return SystemCard("queue", "Queue", webhook="inline (REDIS_URL not set)")
        mode = await self._queue.check()
        card = SystemCard("queue", "Queue", webhook=mode.value)
        if mode is QueueMode.fallback_inline:
            return card
        stats = await self._queue.refresh_gauges()
        if stats is not None:
            facts: dict[str, Any] = stats.as_dict()
            card.facts = [
                ("depth", str(facts["depth"])),
                ("pending", str(facts["pending"])),
                ("oldest", f"{facts['oldest_age_seconds']:.0f} s"),
                ("workers", str(len(stats.consumers))),
            ]
        return card
