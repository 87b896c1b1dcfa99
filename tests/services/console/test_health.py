"""The overview's report: cards per system, checks from the ledger, syncs and queue, and the
place where the watch checks plug in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.events.deliveries import DeliveryRecorder
from app.events.ledger import LedgerEntry, LedgerStatus
from app.events.model import Outcome, RawRequest, Source
from app.services.console.chart import build_chart
from app.services.console.health import BridgeHealth, Check, CheckState
from app.services.syncstate import LastRun, SyncState

NOW = datetime.now(UTC)


def entry(key: str, status: LedgerStatus, source: Source = Source.braintree, age_h: float = 1):
    at = NOW - timedelta(hours=age_h)
    return LedgerEntry(
        record_id=key, event_key=key, source=source, event_type="t", status=status,
        error="boom", attempts=1, first_attempt_at=at, last_attempt_at=at,
        next_attempt_at=None, occurred_at=None, raw=RawRequest(body="{}", headers={}, query=""),
    )  # fmt: skip


class FakeLedger:
    def __init__(self, *entries: LedgerEntry) -> None:
        self.entries = entries

    async def list_entries(self, *, status=None, limit=100, **_):
        return [e for e in self.entries if status is None or e.status is status][:limit]


class FakeRunner:
    def __init__(self, state: SyncState | None) -> None:
        self.state = state

    async def load_state(self):
        return self.state


class Watch:
    async def checks(self) -> list[Check]:
        return [
            Check("attio.webhook", CheckState.warning, "Attio marks the webhook degraded"),
            Check("ledger.dead", CheckState.critical, "from the watch pass"),
        ]


def health(*entries: LedgerEntry, sync_failed: bool = False, **options) -> BridgeHealth:
    run = LastRun(started_at=NOW, finished_at=NOW, outcome="failed", error="Zoho 500")
    zoho = FakeRunner(SyncState("zoho", last_run=run) if sync_failed else None)
    return BridgeHealth(
        ledger=FakeLedger(*entries),  # type: ignore[arg-type]
        sources={Source.attio: object()},
        sync_runners={"zoho": zoho, "braintree": FakeRunner(None)},  # type: ignore[dict-item]
        queue=None,
        deliveries=options.pop("deliveries", DeliveryRecorder()),
        **options,
    )


async def test_all_quiet() -> None:
    report = await health().report()
    assert [card.name for card in report.systems] == ["attio", "braintree", "zoho", "queue"]
    assert all(card.state is CheckState.ok for card in report.systems)
    assert report.alerts == []
    assert report.systems[0].webhook == "enabled"
    assert report.systems[1].webhook.startswith("disabled")
    assert report.systems[3].webhook.startswith("inline")
    assert report.ledger_counts == {s.value: "0" for s in LedgerStatus}


async def test_dead_events_stuck_failures_and_a_failed_sync_fire() -> None:
    report = await health(
        entry("a", LedgerStatus.dead),
        entry("b", LedgerStatus.needs_attention, Source.zoho),
        entry("c", LedgerStatus.failed, age_h=30),
        entry("d", LedgerStatus.failed),
        sync_failed=True,
    ).report()
    assert [(c.id, c.state) for c in report.alerts] == [
        ("ledger.dead", CheckState.critical),
        ("ledger.stuck", CheckState.warning),
        ("sync.zoho", CheckState.warning),
    ]
    assert "1 braintree, 1 zoho" in report.alerts[0].message
    zoho = next(card for card in report.systems if card.name == "zoho")
    assert zoho.state is CheckState.warning
    assert report.ledger_counts["failed"] == "2"


async def test_watch_checks_plug_in_and_replace_checks_of_the_same_id() -> None:
    report = await health(entry("a", LedgerStatus.dead), extra_checks=Watch()).report()
    dead = [c for c in report.alerts if c.id == "ledger.dead"]
    assert [c.message for c in dead] == ["from the watch pass"]
    attio = report.systems[0]
    assert attio.state is CheckState.warning
    assert attio.checks[0].id == "attio.webhook"


async def test_the_chart_stacks_outcomes_per_source() -> None:
    recorder = DeliveryRecorder()
    for outcome in (Outcome.processed, Outcome.processed, Outcome.recorded):
        recorder.outcome(Source.braintree, outcome)
    chart = build_chart(await recorder.history())
    braintree = next(p for p in chart.panels if p.source == "braintree")
    assert braintree.peak == 3
    assert [bar.outcome for bar in braintree.bars] == ["processed", "failed"]
    processed, failed = braintree.bars
    assert processed.height == 2 * failed.height
    assert failed.y + failed.height == processed.y  # stacked on top
    assert processed.y + processed.height == braintree.baseline
    assert chart.total == 3 and chart.origin == "process"
    assert all(not p.bars for p in chart.panels if p.source != "braintree")
