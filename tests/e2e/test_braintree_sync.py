"""`attio-bridge sync braintree`: the SDK's own searches against the Braintree stand-in on
loopback, the bridge against the Attio sandbox, in both layouts."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import typer
from fastapi import FastAPI
from typer.testing import CliRunner

import app.cli.sync as cli_sync
from app.bridge import Bridge, build_bridge
from app.clients.attio import AttioClient, AttioTransportError
from app.clients.attio.values import first_value, iso_timestamp
from app.clients.braintree import BraintreeClient
from app.config import get_settings
from app.events.ledger import LedgerStatus
from app.events.model import RawRequest, Source
from app.schema import BRIDGE_EVENTS, EVENT_KEY
from app.services.syncrunner import RunStatus, SyncAlreadyRunningError
from attio_sandbox import SandboxState
from testkit.braintree_api import BraintreeData, braintree_api, sdk_gateway, subscription_xml
from testkit.signing import braintree_form_body, braintree_signed_xml
from tests.conftest import SANDBOX_URL, make_sandbox
from tests.e2e.conftest import (
    ADMIN_TOKEN,
    Harness,
    bootstrap,
    bridge_on_sandbox,
    bridge_settings,
    commands_against,
    start_harness,
)

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

START = datetime(2026, 1, 1, tzinfo=UTC)
LAYOUTS = [pytest.param("true", id="payments-object"), pytest.param("false", id="folded")]


@dataclass
class World:
    data: BraintreeData
    braintree: BraintreeClient
    sandbox_app: FastAPI
    bridge: Bridge
    attio: AttioClient
    payments_object: bool

    @property
    def sandbox(self) -> SandboxState:
        return self.sandbox_app.state.sandbox

    def record_writes(self) -> int:
        """Writes to the billing objects and people (not the sync's own bookkeeping)."""
        log = self.sandbox.requests
        return sum(
            log.count(kind="write", path_regex=f"/objects/{obj}/")
            for obj in ("subscriptions", "payments", "people")
        )

    def writes(self) -> int:
        return self.sandbox.requests.count(kind="write")

    async def values(self, obj: str, key: str) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        async for record in self.attio.iter_records(obj):
            values = {slug: first_value(record, slug) for slug in record["values"]}
            found[values[key]] = values
        return found

    async def subscriptions(self) -> dict[str, dict[str, Any]]:
        return await self.values("subscriptions", "braintree_subscription_id")

    async def payments(self) -> dict[str, dict[str, Any]]:
        return await self.values("payments", "braintree_transaction_id")

    async def sync(self, **options: Any) -> Any:
        run = await self.bridge.braintree_service.run_sync(**options)
        assert run.report is not None, run.error
        return run.report


@pytest.fixture
def stand_in() -> Iterator[tuple[BraintreeData, BraintreeClient]]:
    data = BraintreeData()
    data.seed_account(customers=4, subscriptions=6, transactions=18, start=START, days=30)
    # A card charge of this morning, submitted for settlement (settled ones are in the seed).
    recent = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    data.add_transaction("txn_card", "cus_00001", created_at=recent, subscription_id="sub_00001")
    with braintree_api(data) as port:
        yield data, BraintreeClient(sdk_gateway(port))


@asynccontextmanager
async def world_for(
    stand_in: tuple[BraintreeData, BraintreeClient],
    payments_object: str = "true",
) -> AsyncIterator[World]:
    data, client = stand_in
    async with bridge_on_sandbox(client, payments_object) as (sandbox_app, attio, bridge):
        yield World(data, client, sandbox_app, bridge, attio, payments_object == "true")


@pytest.mark.parametrize("layout", LAYOUTS)
async def test_backfill_then_nothing_then_only_what_changed(stand_in, layout: str) -> None:
    async with world_for(stand_in, layout) as world:
        data = world.data
        first = await world.sync()
        assert first.ok, first.summary_lines()
        assert first.since is None  # no watermark yet: everything
        subscriptions = await world.subscriptions()
        assert set(subscriptions) == set(data.subscriptions)
        people = await world.values("people", "braintree_customer_id")
        assert set(people) == set(data.customers)
        sample = subscriptions["sub_00002"]
        source = data.subscriptions["sub_00002"]
        assert sample["status"] == source["status"] and sample["plan_id"] == source["plan_id"]
        assert sample["person"] is not None and sample["braintree_customer_id"] == "cus_00002"
        if world.payments_object:
            payments = await world.payments()
            assert set(payments) == set(data.transactions)
            assert payments["txn_000001"]["subscription"] is not None
            assert payments["txn_000001"]["person"] is not None
        else:
            newest = max(
                (data.transactions[t] for t in source["transactions"]),
                key=lambda t: t["created_at"],
            )
            assert sample["last_payment_id"] == newest["id"]
        counts = first.counts.as_dict()
        assert counts["subscription"]["created"] == len(data.subscriptions)
        assert counts["person"]["updated"] == len(data.customers)  # one write per person

        # Nothing changed in Braintree: no record is written.
        before = world.record_writes()
        second = await world.sync()
        assert second.ok and second.since is not None  # the watermark less the overlap
        assert world.record_writes() == before
        assert second.counts.writes == 0

        # A card charge settles and a subscription is canceled, no webhook for either.
        now = datetime.now(UTC).replace(microsecond=0)
        pending = data.transactions["txn_card"]
        data.settle_transaction(pending["id"], now)
        active = next(
            s
            for s in data.subscriptions.values()
            if s["status"] == "Active" and s["id"] != "sub_00001"
        )
        data.cancel_subscription(active["id"], now)
        third = await world.sync()
        assert third.ok, third.summary_lines()
        subscriptions = await world.subscriptions()
        assert subscriptions[active["id"]]["status"] == "Canceled"
        # The two customers' summaries change too (a cancellation's MRR, a payment's status).
        summaries = third.counts.of("summary").updated
        assert summaries in (1, 2)
        if world.payments_object:
            assert (await world.payments())[pending["id"]]["status"] == "settled"
            # exactly the two changed records and their people's summaries
            assert world.record_writes() == before + 2 + summaries
        else:
            holder = subscriptions[pending["subscription_id"]]
            if holder["last_payment_id"] == pending["id"]:
                assert holder["last_payment_status"] == "settled"
            # the two may share a record
            assert world.record_writes() - before - summaries in (1, 2)


async def test_dry_run_writes_nothing_and_lists_the_changes(stand_in) -> None:
    async with world_for(stand_in) as world:
        report = await world.sync(dry_run=True)
        assert world.writes() == 0  # no record, no lock, no watermark
        assert len(report.plan) == len(world.data.subscriptions) + len(world.data.transactions)
        assert {change.obj for change in report.plan} == {"subscriptions", "payments"}
        state = await world.bridge.braintree_service.sync_runner.load_state()
        assert state is not None and state.watermark is None and state.last_run is None


async def test_a_webhook_newer_than_the_snapshot_is_not_overwritten(stand_in) -> None:
    async with world_for(stand_in) as world:
        data = world.data
        assert (await world.sync()).ok
        subscription_id = "sub_00001"
        canceled_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
        data.set_subscription_status(subscription_id, "Canceled", canceled_at)
        # Braintree's newer state, delivered by webhook while the run is under way: the run
        # has already read the subscription (Canceled) when the notification is handled.
        reactivated = dict(data.subscriptions[subscription_id], status="Active")
        reactivated["updated_at"] = canceled_at + timedelta(minutes=5)
        notification = notification_form(
            "subscription_went_active",
            canceled_at + timedelta(minutes=5),
            subscription_xml(reactivated, data.transactions),
        )
        original = world.braintree.iter_subscriptions

        async def read_then_webhook() -> AsyncIterator[list[Any]]:
            pages = [page async for page in original()]  # the run's snapshot
            (event,) = await world.bridge.sources[Source.braintree].events_from(
                RawRequest(body=notification.decode(), path="webhooks/braintree")
            )
            await world.bridge.processor.process(event)
            for page in pages:
                yield page

        world.braintree.iter_subscriptions = read_then_webhook  # type: ignore[method-assign]
        try:
            report = await world.sync()
        finally:
            del world.braintree.iter_subscriptions
        record = (await world.subscriptions())[subscription_id]
        assert record["status"] == "Active"
        assert record["last_event_kind"] == "subscription_went_active"
        assert report.counts.notes["stale"] >= 1
        # The next run reads Braintree's own newer state and follows it.
        data.set_subscription_status(
            subscription_id, "Canceled", canceled_at + timedelta(minutes=8)
        )
        await world.sync()
        assert (await world.subscriptions())[subscription_id]["status"] == "Canceled"


def notification_form(kind: str, at: datetime, subject_xml: str) -> bytes:
    xml = (
        f'<notification><kind>{kind}</kind><timestamp type="datetime">'
        f"{at.strftime('%Y-%m-%dT%H:%M:%SZ')}</timestamp>"
        f"<subject>{subject_xml}</subject></notification>"
    )
    return braintree_form_body(*braintree_signed_xml(xml.encode()))


async def test_one_run_at_a_time_and_a_stale_lock_is_taken_over(stand_in) -> None:
    async with world_for(stand_in) as world:
        runner = world.bridge.braintree_service.sync_runner
        assert runner.lock is not None
        held = await runner.lock.acquire("braintree")
        assert held is not None
        with pytest.raises(SyncAlreadyRunningError):
            await world.bridge.braintree_service.run_sync()
        status = await runner.status()
        assert status["running"] is True and status["lock"]["expires_at"]
        await runner.lock.release(held)

        # A crashed run's lock: its expiry has passed, so the next run takes it over.
        await world.attio.request(
            "POST",
            f"/v2/objects/{BRIDGE_EVENTS}/records",
            json={
                "data": {
                    "values": {
                        EVENT_KEY: "sync-lock:braintree",
                        "source": "braintree",
                        "event_type": "sync.lock",
                        "raw_body": json.dumps(
                            {"owner": "crashed", "expires_at": iso_timestamp(START)}
                        ),
                    }
                }
            },
        )
        report = await world.sync()
        assert report.ok
        rows = await world.attio.query_records(BRIDGE_EVENTS)
        keys = {first_value(row, EVENT_KEY) for row in rows}
        assert keys == {"sync-state:braintree"}  # lock released; state recorded
        # Bookkeeping records are not events: listing and retry-due never see them.
        assert await world.bridge.ledger.list_entries() == []
        assert await world.bridge.ledger.get("sync-state:braintree") is None


async def test_concurrent_starts_get_409(stand_in) -> None:
    async with world_for(stand_in) as world:
        world.data.latency_seconds = 0.05  # the first run is still reading
        service = world.bridge.braintree_service
        first = await service.start_sync()
        with pytest.raises(SyncAlreadyRunningError):
            await service.start_sync()
        await service.sync_runner.wait()
        assert first.status is RunStatus.succeeded
        listed = await service.sync_runner.status()
        assert listed["recorded"]["last_run"]["outcome"] == "succeeded"
        assert listed["recorded"]["watermark"] is not None


class FlakyAttio(AttioClient):
    """Attio failing every write of one subscription while `failing` is set."""

    failing = True

    async def assert_record(self, obj: str, *, matching_attribute: str, values: Any) -> Any:
        if self.failing and values.get("braintree_subscription_id") == "sub_00003":
            raise AttioTransportError("Attio did not answer")
        return await super().assert_record(
            obj, matching_attribute=matching_attribute, values=values
        )


@pytest.mark.parametrize("layout", LAYOUTS)
async def test_a_failed_record_is_ledgered_and_retried_by_retry_due(stand_in, layout) -> None:
    sandbox_app = make_sandbox()
    flaky = FlakyAttio(
        api_key="sandbox-key",
        base_url=SANDBOX_URL,
        transport=httpx.ASGITransport(app=sandbox_app),
        write_rate=10_000,
        read_rate=10_000,
        max_attempts=1,
    )
    data, client = stand_in
    settings = bridge_settings(ATTIO_PAYMENTS_OBJECT=layout)
    await bootstrap(sandbox_app, settings)
    async with flaky, build_bridge(settings, flaky, braintree=client) as bridge:
        run = await bridge.braintree_service.run_sync()
        report = run.report
        assert report is not None and not report.ok
        assert report.counts.of("subscription").failed == 1
        failed = await bridge.ledger.list_entries(status=LedgerStatus.failed)
        by_key = {entry.event_key: entry for entry in failed}
        entry = by_key["braintree:sync:subscription:sub_00003"]
        assert json.loads(entry.raw.body) == {"id": "sub_00003", "kind": "subscription"}
        # Its payments need its record to link to, so they failed with it (and were ledgered).
        assert len(failed) == report.counts.failed

        flaky.failing = False
        bridge.ledger.clock = lambda: datetime.now(UTC) + timedelta(hours=1)
        result = await bridge.replayer.retry_due()
        assert result.counts()["replayed"] == len(failed), result.as_dict()
        entries = await bridge.ledger.list_entries()
        assert {entry.status for entry in entries} == {LedgerStatus.replayed}
        found = await flaky.query_records(
            "subscriptions", filter={"braintree_subscription_id": "sub_00003"}
        )
        assert first_value(found[0], "status") == data.subscriptions["sub_00003"]["status"]


async def test_gone_from_braintree_on_replay_is_not_an_error(stand_in) -> None:
    async with world_for(stand_in) as world:
        assert await world.bridge.braintree_service.new_sync().apply_one("dispute", "nope") is False


# -- the command and the admin API -----------------------------------------------------------


@pytest.fixture
def bridge_with_stand_in(stand_in) -> Iterator[Harness]:
    """The bridge app (TestClient) on a fresh sandbox, Braintree's API the stand-in."""
    _data, client = stand_in
    yield from start_harness(braintree=client)


def test_admin_starts_a_run_refuses_a_second_and_lists_every_source(
    bridge_with_stand_in: Harness, stand_in
) -> None:
    harness = bridge_with_stand_in
    data, _client = stand_in
    data.latency_seconds = 0.05  # the first run is still going when the second POST comes
    started = harness.client.post("/admin/sync/braintree", headers=ADMIN)
    assert started.status_code == 202, started.text
    assert started.json()["status"] == "running"
    refused = harness.client.post("/admin/sync/braintree", headers=ADMIN)
    assert refused.status_code == 409 and refused.json()["error"] == "sync_running"
    deadline = time.monotonic() + 30
    while (status := harness.client.get("/admin/sync/braintree", headers=ADMIN).json())[
        "running"
    ] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert status["last_run"]["status"] == "succeeded"
    assert status["last_run"]["progress"]["phase"] == "done"
    listed = harness.client.get("/admin/sync", headers=ADMIN).json()["sources"]
    by_source = {entry["source"]: entry for entry in listed}
    assert set(by_source) == {"braintree", "zoho", "attio"}
    recorded = by_source["braintree"]["recorded"]
    assert recorded["watermark"] is not None
    assert recorded["last_run"]["outcome"] == "succeeded"
    assert recorded["last_run"]["counts"]["subscription"]["created"] == len(data.subscriptions)
    assert by_source["zoho"]["recorded"] == {"source": "zoho", "watermark": None, "last_run": None}
    for not_iso in ("yesterday", "-2.2250738585e-313", "1700000000"):
        answer = harness.client.post(f"/admin/sync/braintree?since={not_iso}", headers=ADMIN)
        assert answer.status_code == 422, not_iso


def test_the_command_prints_the_plan_then_syncs(
    bridge_with_stand_in: Harness, stand_in, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness = bridge_with_stand_in
    data, client = stand_in
    commands_against(monkeypatch, harness.sandbox_app, client)
    root = typer.Typer()
    root.add_typer(cli_sync.sync_cli, name="sync")
    try:
        dry = CliRunner().invoke(root, ["sync", "braintree", "--dry-run"])
        assert dry.exit_code == 0, dry.output
        assert dry.stdout.count("create  subscriptions") == len(data.subscriptions)
        assert "would write created=" in dry.stdout
        assert harness.sandbox.requests.count(kind="write") == 0
        bad = CliRunner().invoke(root, ["sync", "braintree", "--since", "last tuesday"])
        assert bad.exit_code == 2 and "ISO 8601" in bad.output
        real = CliRunner().invoke(root, ["sync", "braintree", "--since", "2020-01-01"])
        assert real.exit_code == 0, real.output
        assert "since 2020-01-01T00:00:00Z" in real.stdout
        assert f"subscription  created={len(data.subscriptions)}" in real.stdout
        writes = harness.sandbox.requests.count(kind="write")
        verify = CliRunner().invoke(root, ["sync", "braintree", "--verify"])
        assert verify.exit_code == 0, verify.output
        people = len(data.customers)
        assert f"mrr check: {people} people, 0 companies: every sum holds" in verify.stdout
        assert harness.sandbox.requests.count(kind="write") == writes  # it only reads
    finally:
        get_settings.cache_clear()
