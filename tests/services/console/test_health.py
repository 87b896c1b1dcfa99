"""The overview's report: cards per system with the watch checks, ledger counts, and the
watch pass read as console checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.events.delivery_counts import DeliveryRecorder
from app.events.ledger import LedgerEntry, LedgerStatus
from app.events.model import Outcome, RawRequest, Source
from app.services.console.chart import build_chart
from app.services.console.health import BridgeHealth, CheckState, WatchChecks
from app.services.console.service import sum_counts

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


class Watch:
    """A watch pass as `Watch.latest()` answers it."""

    def __init__(self, *rows: dict) -> None:
        self.rows = rows

    async def latest(self) -> dict:
        return {"checks": list(self.rows)}


def row(check: str, state: str, message: str = "", since: str | None = None) -> dict:
    return {"check": check, "state": state, "since": since, "message": message, "action": "do"}


def health(*entries: LedgerEntry, watch: Watch | None = None, **options) -> BridgeHealth:
    return BridgeHealth(
        ledger=FakeLedger(*entries),  # type: ignore[arg-type]
        sources={Source.attio: object()},
        queue=None,
        deliveries=options.pop("deliveries", DeliveryRecorder()),
        checks=WatchChecks(watch),  # type: ignore[arg-type]
        **options,
    )


async def test_all_quiet() -> None:
    report = await health(watch=Watch(row("ledger.dead", "ok"), row("sync.zoho", "ok"))).report()
    assert [card.name for card in report.systems] == ["attio", "braintree", "zoho", "queue"]
    assert all(card.state is CheckState.ok for card in report.systems)
    assert report.alerts == []
    assert report.systems[0].webhook == "enabled"
    assert report.systems[1].webhook.startswith("disabled")
    assert report.systems[3].webhook.startswith("inline")
    assert report.ledger_counts == {s.value: "0" for s in LedgerStatus}


async def test_the_watch_checks_go_on_their_cards_and_the_firing_ones_are_alerts() -> None:
    watch = Watch(
        row("attio.webhook", "warning", "Attio marks the webhook degraded"),
        row("ledger.dead", "critical", "2 event(s) dead", since="2026-12-01T10:00:00Z"),
        row("sync.zoho", "warning", "The last zoho sync failed"),
        row("zoho.crm_channel", "skipped", "not configured"),
        row("braintree.silence", "ok"),
    )
    report = await health(
        entry("a", LedgerStatus.dead), entry("c", LedgerStatus.failed), watch=watch
    ).report()
    assert [(c.id, c.state) for c in report.alerts] == [
        ("ledger.dead", CheckState.critical),
        ("attio.webhook", CheckState.warning),
        ("sync.zoho", CheckState.warning),
    ]
    assert report.alerts[0].since == datetime(2026, 12, 1, 10, tzinfo=UTC)
    cards = {card.name: card for card in report.systems}
    assert cards["attio"].state is CheckState.warning
    assert [c.id for c in cards["zoho"].checks] == ["sync.zoho"]  # skipped checks are left out
    assert [c.id for c in cards["braintree"].checks] == ["braintree.silence"]
    assert report.ledger_counts["dead"] == "1" and report.ledger_counts["failed"] == "1"


async def test_a_bridge_without_a_watch_shows_no_checks() -> None:
    report = await health(entry("a", LedgerStatus.dead)).report()
    assert report.alerts == [] and all(not card.checks for card in report.systems)


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


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        (  # totals first, then each group (docs/syncs.md): the totals, never a double sum
            {"created": 3, "updated": 1, "unchanged": 5, "failed": 0,
             "books": {"created": 3, "updated": 1, "unchanged": 5, "failed": 0},
             "by_source": {"books": {"created": 3}}, "stale": 2},
            (3, 1, 5, 0),
        ),
        (  # a run recorded before counts carried totals: per object, summed
            {"subscription": {"created": 2, "updated": 0, "unchanged": 1, "failed": 1},
             "transaction": {"created": 4, "updated": 1, "unchanged": 0, "failed": 0}},
            (6, 1, 1, 1),
        ),
        (None, (0, 0, 0, 0)),
    ],
)  # fmt: skip
def test_a_runs_counts_read_as_four_numbers(counts: object, expected: tuple[int, ...]) -> None:
    assert tuple(sum_counts(counts).values()) == expected
