"""`sync zoho` end to end: a fake Zoho, the Attio sandbox, the ledger, the admin API."""

from __future__ import annotations

import io
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.clients.attio import AttioClient, AttioServerError, AttioValidationError
from app.config import get_settings
from app.events.ledger import Ledger
from app.events.sources.zoho_sync import ZohoSyncFailureSource
from app.services.syncpipeline import DEFAULT_CONCURRENCY
from app.services.zoho.sync.engine import ZohoServicesSync
from app.services.zoho.sync.progress import VIEW, BarProgress, LogProgress, progress_observer
from app.services.zoho.sync.report import SyncReport
from testkit.fake_zoho import FakeZoho
from tests.e2e.conftest import ADMIN_TOKEN, Harness
from tests.services.zoho.conftest import fail_writes_of, sync_zoho_command, zoho_of

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def services(h: Harness) -> dict[str, dict[str, Any]]:
    return {r["values"]["zoho_item_id"]: r["values"] for r in h.records("services")}


def ledger(h: Harness) -> dict[str, dict[str, Any]]:
    return {r["values"]["event_key"]: r["values"] for r in h.records("bridge_events")}


async def run_sync(
    h: Harness, zoho: FakeZoho, *, dry_run: bool = False, attio: AttioClient | None = None
) -> SyncReport:
    async with h.attio_client() as own, zoho.client() as client:
        client_for_attio = attio or own
        sync = ZohoServicesSync(client_for_attio, client, Ledger(client_for_attio))
        return await sync.run(dry_run=dry_run)


# -- the command -----------------------------------------------------------------------------


@pytest.fixture
def sync_command(harness: Harness, monkeypatch: pytest.MonkeyPatch):
    """`attio-bridge sync zoho`, on the harness's sandbox and a fake Zoho of 1,200 items."""
    zoho = FakeZoho.with_items(1200)
    yield zoho, sync_zoho_command(harness, monkeypatch, zoho)
    get_settings.cache_clear()


def test_sync_creates_all_then_writes_nothing_then_only_what_changed(
    harness: Harness, sync_command
) -> None:
    zoho, invoke = sync_command
    first = invoke()
    assert first.exit_code == 0, first.output
    assert "created=1200 updated=0 unchanged=0 deactivated=0 failed=0" in first.stdout
    # Six pages of 200, read four at a time: at most three requests past the last page.
    assert 6 <= zoho.calls["GET /books/v3/items"] <= 9
    assert harness.writes_to("services") == 1200
    record = services(harness)["2000000000007"]
    assert record["name"] == "Service 7" and record["status"] == "active"
    assert record["rate"] == 107.5 and record["zoho_source"] == "books"

    second = invoke()
    assert "created=0 updated=0 unchanged=1200 deactivated=0 failed=0" in second.stdout
    assert harness.writes_to("services") == 1200  # nothing written

    changed = zoho.item_ids()[100:105]
    zoho.change(changed, rate=999.0)
    third = invoke("--json")
    assert third.exit_code == 0, third.output
    assert json.loads(third.stdout)["counts"]["updated"] == 5
    assert harness.writes_to("services") == 1205
    assert {services(harness)[i]["rate"] for i in changed} == {999.0}
    # No failure was ledgered: each run only took its lock, recorded itself and let go.
    assert harness.writes_to("bridge_events") == 3 * 3


def test_dry_run_prints_the_plan_and_writes_nothing(harness: Harness, sync_command) -> None:
    _zoho, invoke = sync_command
    result = invoke("--dry-run")
    assert result.exit_code == 0, result.output
    assert result.stdout.count("create ") == 1200
    assert "dry run, would write: created=1200" in result.stdout
    assert harness.sandbox.requests.count(kind="write") == 0


# -- the engine ------------------------------------------------------------------------------


async def test_vanished_items_are_deactivated_once_zoho_confirms(harness: Harness) -> None:
    zoho = FakeZoho.with_items(10)
    await run_sync(harness, zoho)
    gone, unlisted = zoho.item_ids()[3], zoho.item_ids()[4]
    del zoho.items[gone]
    zoho.unlisted.add(unlisted)  # missing from the list, yet Zoho still has it
    report = await run_sync(harness, zoho)
    assert report.counts.deactivated == 1
    assert report.counts.unchanged == 9
    records = services(harness)
    assert records[gone]["status"] == "inactive"
    assert records[gone]["name"] == "Service 3"
    assert records[unlisted]["status"] == "active"
    assert zoho.calls[f"GET /books/v3/items/{unlisted}"] == 1
    assert harness.sandbox.requests.count(method="DELETE") == 0


async def test_failed_item_is_recorded_and_the_run_goes_on(harness: Harness) -> None:
    zoho = FakeZoho.with_items(30)
    bad = zoho.item_ids()[5]
    zoho.items[bad]["rate"] = "not a number"
    refused = zoho.item_ids()[6]

    async with harness.attio_client() as attio:
        fail_writes_of(attio, refused, AttioValidationError("name too long", attio_status=400))
        report = await run_sync(harness, zoho, attio=attio)

    assert report.counts.created == 28 and report.counts.failed == 2
    assert not report.ok
    keys = ledger(harness)
    invalid = keys[f"zoho:sync:{bad}:invalid"]
    assert invalid["status"] == "dead" and "MalformedPayloadError" in invalid["error"]
    version = report.failures[1].event_key.split(":", 3)[3]
    rejected = keys[f"zoho:sync:{refused}:{version}"]
    assert rejected["status"] == "dead" and rejected["event_type"] == "sync.item"

    # Fixed in Zoho: the next run writes the item and settles its ledger record.
    zoho.change([bad], rate=10)
    again = await run_sync(harness, zoho)
    assert again.counts.created == 2 and again.counts.failed == 0
    assert ledger(harness)[f"zoho:sync:{bad}:invalid"]["status"] == "replayed"


async def test_unreadable_zoho_aborts_before_deactivating_anything(harness: Harness) -> None:
    zoho = FakeZoho.with_items(1000)
    await run_sync(harness, zoho)
    zoho.fail_item_pages_from = 3
    report = await run_sync(harness, zoho)
    assert report.error and "nothing deactivated" in report.error
    assert report.counts.deactivated == 0
    assert {r["status"] for r in services(harness).values()} == {"active"}


async def test_a_newer_version_in_attio_is_not_overwritten(harness: Harness) -> None:
    zoho = FakeZoho.with_items(3)
    await run_sync(harness, zoho)
    item_id = zoho.item_ids()[0]
    async with harness.attio_client() as attio:
        await attio.assert_record(
            "services",
            matching_attribute="zoho_item_id",
            values={
                "zoho_item_id": item_id,
                "name": "Renamed by a newer webhook",
                "zoho_last_modified_at": "2027-01-01T00:00:00Z",
            },
        )
    report = await run_sync(harness, zoho)
    assert report.counts.writes == 0
    assert services(harness)[item_id]["name"] == "Renamed by a newer webhook"


async def test_writes_run_concurrently(harness: Harness) -> None:
    harness.sandbox.configure_faults(latency_ms=20)
    zoho = FakeZoho.with_items(60)
    in_flight = peak = 0
    async with harness.attio_client() as attio:
        assert_record = attio.assert_record

        async def counting(obj: str, **kwargs: Any) -> dict:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            try:
                return await assert_record(obj, **kwargs)
            finally:
                in_flight -= 1

        attio.assert_record = counting  # type: ignore[method-assign]
        report = await run_sync(harness, zoho, attio=attio)
    assert report.counts.created == 60
    # Several writes in flight at once, never more than the pool's workers.
    assert 4 < peak <= DEFAULT_CONCURRENCY


async def test_replaying_a_failed_sync_item_refetches_it_from_zoho(harness: Harness) -> None:
    zoho = FakeZoho.with_items(3)
    bad = zoho.item_ids()[1]
    zoho.items[bad]["rate"] = "n/a"
    await run_sync(harness, zoho)
    zoho.change([bad], rate=42)
    zoho_of(harness).use_zoho_client(zoho.client())
    entry = await harness.bridge.ledger.get(f"zoho:sync:{bad}:invalid")
    assert entry is not None
    (event,) = await ZohoSyncFailureSource().events_from(entry.raw)
    await harness.bridge.processor.process(event, previous=entry)
    assert services(harness)[bad]["rate"] == 42
    assert ledger(harness)[entry.event_key]["status"] == "replayed"


async def test_retry_due_replays_a_failed_sync_item(harness: Harness) -> None:
    zoho = FakeZoho.with_items(3)
    flaky = zoho.item_ids()[2]
    async with harness.attio_client() as attio:
        fail_writes_of(attio, flaky, AttioServerError("Attio is down", attio_status=503))
        report = await run_sync(harness, zoho, attio=attio)
    (failure,) = report.failures
    assert ledger(harness)[failure.event_key]["status"] == "failed"

    zoho_of(harness).use_zoho_client(zoho.client())
    bridge_ledger = harness.bridge.ledger
    bridge_ledger.clock = lambda: datetime.now(UTC) + timedelta(minutes=2)
    replayed = await harness.bridge.replayer.retry_due()
    assert [r.status.value for r in replayed.results] == ["replayed"]
    assert ledger(harness)[failure.event_key]["status"] == "replayed"
    assert services(harness)[flaky]["name"] == "Service 2"


# -- admin API -------------------------------------------------------------------------------


@pytest.fixture
def admin(harness: Harness) -> Harness:
    """The harness with the sync admin routes mounted (once the app includes them, a no-op)."""
    from app.routes import admin_sync

    if not any(getattr(r, "path", None) == "/admin/sync/zoho" for r in harness.app.routes):
        harness.app.include_router(admin_sync.router)
    return harness


def wait_for_run(h: Harness, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status = h.client.get("/admin/sync/zoho", headers=ADMIN).json()
        if not status["running"] or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def test_admin_starts_a_background_run_and_reports_it(admin: Harness) -> None:
    harness = admin
    zoho = FakeZoho.with_items(250, page_latency=0.05)
    zoho_of(harness).use_zoho_client(zoho.client())
    before = harness.client.get("/admin/sync/zoho", headers=ADMIN).json()
    assert before["running"] is False and before["last_run"] is None
    assert before["recorded"] == {"source": "zoho", "watermark": None, "last_run": None}
    started = harness.client.post("/admin/sync/zoho", headers=ADMIN)
    assert started.status_code == 202
    assert started.json()["status"] == "running"
    assert harness.client.post("/admin/sync/zoho", headers=ADMIN).status_code == 409
    status = wait_for_run(harness)
    run = status["last_run"]
    assert run["status"] == "succeeded"
    assert run["summary"]["counts"]["created"] == 250
    assert run["progress"]["phase"] == "done" and run["progress"]["finished"] == 250
    assert len(services(harness)) == 250
    recorded = status["recorded"]["last_run"]  # in Attio, for GET /admin/sync
    assert recorded["outcome"] == "succeeded" and recorded["counts"]["created"] == 250


def test_admin_sync_needs_the_admin_token(admin: Harness) -> None:
    harness = admin
    assert harness.client.post("/admin/sync/zoho").status_code == 401
    assert harness.client.get("/admin/sync/zoho").status_code == 401


def test_admin_sync_without_zoho_credentials_is_refused(admin: Harness) -> None:
    harness = admin
    response = harness.client.post("/admin/sync/zoho", headers=ADMIN)
    assert response.status_code == 503
    assert response.json()["error"] == "zoho_not_configured"


# -- progress display ------------------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


async def test_progress_is_a_bar_on_a_terminal_and_log_lines_otherwise(harness: Harness) -> None:
    with progress_observer(io.StringIO()) as observer:
        assert isinstance(observer, LogProgress)
    screen = Terminal()
    with progress_observer(screen) as observer:
        assert isinstance(observer, BarProgress)
        async with harness.attio_client() as attio, FakeZoho.with_items(5).client() as zoho:
            await ZohoServicesSync(attio, zoho, None).run(observer=observer)
    assert "created 5" in screen.getvalue()


def test_log_progress_is_throttled() -> None:
    from structlog.testing import capture_logs

    from app.services.zoho.sync.report import Phase, SyncProgress

    observer = LogProgress(VIEW, interval=60)
    progress = SyncProgress(source="books", dry_run=False)
    with capture_logs() as logs:
        for _ in range(100):
            observer(progress)
        progress.phase = Phase.done
        observer(progress)
    assert [line["phase"] for line in logs] == ["reading", "done"]
