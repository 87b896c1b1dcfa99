"""Each runtime check of `attio-bridge watch`, firing and clearing, against the sandbox."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.clients.attio import AttioClient
from app.clients.attio.values import iso_timestamp
from app.events.deliveries import DeliveryClock
from app.events.model import Source
from app.events.queue import ConsumerInfo, QueueStats
from app.schema import BRIDGE_EVENTS, EVENT_KEY
from app.services.attio.webhooks import register_webhook
from app.services.doctor import Status
from app.services.syncstate import LastRun, SyncStateStore
from app.services.watch import runtime
from app.services.watch.registry import REGISTRY, Kind, checks
from attio_sandbox import SandboxState
from tests.services.watch.conftest import TARGET, context, settings

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def test_the_registry_names_every_check_once() -> None:
    ids = [spec.id for spec in REGISTRY]
    assert len(ids) == len(set(ids))
    assert [spec.id for spec in checks(Kind.runtime)] == [
        "attio.webhook",
        "zoho.crm_channel",
        "attio.silence",
        "braintree.silence",
        "zoho.silence",
        "ledger.dead",
        "ledger.stuck",
        "sync.braintree",
        "sync.zoho",
        "sync.attio",
        "queue",
    ]
    assert [spec.id for spec in checks(Kind.config)] == ["secrets", "attio", "braintree", "zoho"]


async def test_attio_webhook_degraded_warns_inactive_or_missing_is_critical(
    attio: AttioClient, sandbox: SandboxState
) -> None:
    config = settings()
    registration = await register_webhook(attio, target_url=TARGET, own_actor_ids=[])
    webhook = sandbox.webhooks.get(registration.webhook_id)
    expected = {"active": Status.ok, "degraded": Status.warn, "inactive": Status.fail}
    for status, result in expected.items():
        webhook.status = status
        check = await runtime.attio_webhook(context(attio, config))
        assert check.status is result, (status, check)
    sandbox.webhooks.delete(registration.webhook_id)
    check = await runtime.attio_webhook(context(attio, config))
    assert check.status is Status.fail and "no Attio webhook points at" in check.detail


async def ledger_record(attio: AttioClient, key: str, status: str, **values: Any) -> None:
    await attio.assert_record(
        BRIDGE_EVENTS,
        matching_attribute=EVENT_KEY,
        values={EVENT_KEY: key, "source": "braintree", "status": status, **values},
    )


async def test_ledger_dead_counts_per_source_and_links_the_newest(attio: AttioClient) -> None:
    ctx = context(attio, settings())
    assert (await runtime.ledger_dead(ctx)).status is Status.ok
    for n in range(7):
        stamp = iso_timestamp(NOW - timedelta(minutes=n))
        await ledger_record(attio, f"bt:{n}", "dead", last_attempt_at=stamp)
    await ledger_record(
        attio, "bt:attention", "needs_attention", last_attempt_at=iso_timestamp(NOW)
    )
    check = await runtime.ledger_dead(ctx)
    assert check.status is Status.fail
    assert check.details["counts"] == {"dead:braintree": 7, "needs_attention:braintree": 1}
    assert len(check.links) == 5 and all(obj == BRIDGE_EVENTS for obj, _ in check.links)
    for n in range(7):
        await ledger_record(attio, f"bt:{n}", "replayed")
    check = await runtime.ledger_dead(ctx)
    assert check.status is Status.warn  # needs_attention alone is a warning
    await ledger_record(attio, "bt:attention", "replayed")
    assert (await runtime.ledger_dead(ctx)).status is Status.ok


async def test_ledger_stuck_is_failed_entries_older_than_a_day(attio: AttioClient) -> None:
    ctx = context(attio, settings(), now=NOW)
    await ledger_record(attio, "bt:new", "failed", first_attempt_at=iso_timestamp(NOW))
    assert (await runtime.ledger_stuck(ctx)).status is Status.ok
    old = iso_timestamp(NOW - timedelta(hours=25))
    await ledger_record(attio, "bt:old", "failed", first_attempt_at=old)
    check = await runtime.ledger_stuck(ctx)
    assert check.status is Status.warn and "bt:old" in check.detail
    await ledger_record(attio, "bt:old", "replayed")
    assert (await runtime.ledger_stuck(ctx)).status is Status.ok


async def test_silence_fires_after_the_threshold_and_a_delivery_clears_it(
    attio: AttioClient,
) -> None:
    config = settings(WATCH_SILENCE_ATTIO="90m")
    clock = DeliveryClock(attio)
    check = runtime.silence(Source.attio)
    first = await check(context(attio, config, now=NOW, deliveries=clock))
    assert first.status is Status.warn and "no verified delivery" in first.detail
    await clock.record(Source.attio, NOW - timedelta(hours=2))
    late = await check(context(attio, config, now=NOW, deliveries=clock))
    assert late.status is Status.fail and "threshold 1 h 30 min" in late.detail
    await clock.record(Source.attio, NOW - timedelta(minutes=1))
    assert (await check(context(attio, config, now=NOW, deliveries=clock))).status is Status.ok


async def test_silence_is_off_unless_set_or_for_a_disabled_source(attio: AttioClient) -> None:
    ctx = context(attio, settings(ZOHO_WEBHOOK_SECRET="zoho-secret-0123456789"))
    assert (await runtime.silence(Source.zoho)(ctx)).status is Status.skipped
    ctx = context(attio, settings(WATCH_SILENCE_BRAINTREE="1h"))
    check = await runtime.silence(Source.braintree)(ctx)
    assert check.status is Status.skipped and "not enabled" in check.detail


class Subscriptions:
    def __init__(self, active: int) -> None:
        self.active = active

    async def count_active_subscriptions(self) -> int:
        return self.active


@pytest.mark.parametrize(
    ("active", "threshold"),
    [(0, None), (10, timedelta(days=9)), (1000, timedelta(hours=26))],
)
async def test_braintree_threshold_follows_its_traffic(
    attio: AttioClient, active: int, threshold: timedelta | None
) -> None:
    ctx = context(attio, settings(), braintree=Subscriptions(active))
    found, _basis = await runtime.silence_threshold(ctx, Source.braintree)
    assert found == threshold


async def test_sync_fires_on_a_failed_or_late_run(attio: AttioClient) -> None:
    store = SyncStateStore(attio)
    ctx = context(attio, settings(), now=NOW, braintree=Subscriptions(1))
    check = runtime.sync("braintree")
    assert (await check(ctx)).status is Status.warn  # never ran
    await store.record_run("braintree", LastRun(NOW, NOW, "failed", error="Attio 500"))
    failed = await check(ctx)
    assert failed.status is Status.fail and "Attio 500" in failed.detail
    await store.record_run("braintree", LastRun(NOW, NOW - timedelta(minutes=5), "succeeded"))
    assert (await check(ctx)).status is Status.ok
    ended = NOW - timedelta(hours=3)
    await store.record_run("braintree", LastRun(ended, ended, "succeeded"))
    assert (await check(ctx)).status is Status.fail
    assert (await runtime.sync("zoho")(ctx)).status is Status.skipped  # not configured


async def test_the_catch_up_is_watched_on_its_daily_schedule(attio: AttioClient) -> None:
    store = SyncStateStore(attio)
    check = runtime.sync("attio")
    ctx = context(attio, settings(), now=NOW, braintree=Subscriptions(1))
    assert (await check(ctx)).status is Status.warn  # never ran
    ended = NOW - timedelta(hours=30)  # overdue, not twice overdue
    await store.record_run("attio", LastRun(ended, ended, "succeeded"))
    assert (await check(ctx)).status is Status.ok
    ended = NOW - timedelta(hours=49)
    await store.record_run("attio", LastRun(ended, ended, "succeeded"))
    assert (await check(ctx)).status is Status.fail
    assert (await check(context(attio, settings(), now=NOW))).status is Status.skipped


class Queue:
    def __init__(self, stats: QueueStats) -> None:
        self._stats = stats

    async def stats(self) -> QueueStats:
        return self._stats


@pytest.mark.parametrize(
    ("stats", "status"),
    [
        (QueueStats(depth=3, oldest_age_seconds=20, consumers=[ConsumerInfo("w1", 1, 2)]), "ok"),
        (QueueStats(depth=3, oldest_age_seconds=400, consumers=[ConsumerInfo("w1", 1, 2)]), "fail"),
        (QueueStats(depth=0, consumers=[ConsumerInfo("w1", 0, 301)]), "fail"),
        (QueueStats(depth=0, consumers=[]), "fail"),
    ],
)
async def test_queue_fires_on_an_old_delivery_or_no_reader(
    attio: AttioClient, stats: QueueStats, status: str
) -> None:
    check = await runtime.queue(context(attio, settings(), queue=Queue(stats)))
    assert check.status is Status(status)


async def test_queue_is_skipped_inline(attio: AttioClient) -> None:
    assert (await runtime.queue(context(attio, settings()))).status is Status.skipped


class Channels:
    def __init__(self, expiry: datetime) -> None:
        self.expiry = expiry

    def __call__(self, _settings: object) -> Channels:
        return self

    async def __aenter__(self) -> Channels:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        return None

    async def list_watch_channels(self) -> list[dict[str, Any]]:
        return [{"channel_id": "77", "channel_expiry": self.expiry.isoformat()}]


@pytest.mark.parametrize(
    ("left", "status"),
    [
        (timedelta(days=3), Status.ok),
        (timedelta(hours=20), Status.warn),
        (timedelta(hours=6), Status.fail),
    ],
)
async def test_zoho_crm_channel_is_critical_within_12_hours(
    attio: AttioClient, left: timedelta, status: Status
) -> None:
    config = settings(ZOHO_CRM_NOTIFY_TOKEN="crm-token-0123456789", ZOHO_CRM_CHANNEL_IDS="77")
    ctx = context(attio, config, now=NOW, make_zoho=Channels(NOW + left))
    check = await runtime.zoho_crm_channel(ctx)
    assert check.status is status, check
    assert json.dumps(check.details) == "{}"
