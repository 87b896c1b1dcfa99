"""`attio-bridge sync attio`: Attio edits the webhook did not deliver reach Braintree, through
the real SDK against the Braintree stand-in and the bridge against the Attio sandbox."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import typer
from fastapi import FastAPI
from typer.testing import CliRunner

import app.cli.sync as cli_sync
from app.bridge import Bridge, build_bridge
from app.clients.attio import AttioClient
from app.clients.braintree import BraintreeClient
from app.config import get_settings
from app.events.ledger import LedgerStatus
from app.services.attio.sync.report import AttioSyncReport
from attio_sandbox import SandboxState
from testkit.braintree_api import BraintreeData, braintree_api, sdk_gateway
from tests.conftest import make_sandbox, sandbox_attio_client
from tests.e2e.conftest import (
    ADMIN_TOKEN,
    Harness,
    bootstrap,
    bridge_settings,
    commands_against,
    start_harness,
)

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
YESTERDAY = datetime.now(UTC) - timedelta(days=1)


def name(first: str, last: str) -> list[dict[str, str]]:
    return [{"first_name": first, "last_name": last, "full_name": f"{first} {last}"}]


@pytest.fixture
def stand_in() -> Iterator[tuple[BraintreeData, BraintreeClient]]:
    """Three customers, last changed yesterday."""
    data = BraintreeData()
    data.add_customer("cus_ada", "ada@example.com", "Ada", "Byron", updated_at=YESTERDAY)
    data.add_customer("cus_grace", "grace@example.com", "Grace", "Hopper", updated_at=YESTERDAY)
    data.add_customer("cus_alan", "alan@example.com", "Alan", "Turing", updated_at=YESTERDAY)
    with braintree_api(data) as port:
        yield data, BraintreeClient(sdk_gateway(port), retry_delay=0)


@dataclass
class World:
    data: BraintreeData
    sandbox_app: FastAPI
    bridge: Bridge
    attio: AttioClient
    people: dict[str, str]  # customer id -> person record id

    @property
    def sandbox(self) -> SandboxState:
        return self.sandbox_app.state.sandbox

    async def run(self, **options: Any) -> AttioSyncReport:
        run = await self.bridge.attio_service.run_sync(**options)
        assert isinstance(run.report, AttioSyncReport), run.error
        return run.report

    async def edit(self, customer_id: str, values: dict[str, Any]) -> None:
        """An edit made in Attio while its webhook delivered nothing."""
        await self.attio.update_record("people", self.people[customer_id], values)


async def seed_people(attio: AttioClient, data: BraintreeData) -> dict[str, str]:
    """One person per customer, holding what the customer holds (in step)."""
    people = {}
    for customer_id, customer in data.customers.items():
        record = await attio.assert_record(
            "people",
            matching_attribute="email_addresses",
            values={
                "email_addresses": [customer["email"]],
                "name": name(customer["first_name"], customer["last_name"]),
                "braintree_customer_id": customer_id,
            },
        )
        people[customer_id] = record["id"]["record_id"]
    return people


@asynccontextmanager
async def world_for(stand_in: tuple[BraintreeData, BraintreeClient]) -> AsyncIterator[World]:
    data, client = stand_in
    settings = bridge_settings()
    sandbox_app = make_sandbox()
    await bootstrap(sandbox_app, settings)
    attio = sandbox_attio_client(sandbox_app)
    async with attio, build_bridge(settings, attio, braintree=client) as bridge:
        people = await seed_people(attio, data)
        yield World(data, sandbox_app, bridge, attio, people)


async def test_edits_made_while_the_webhook_was_inactive_reach_braintree(stand_in) -> None:
    async with world_for(stand_in) as world:
        data = world.data
        await world.edit("cus_ada", {"name": name("Ada", "Lovelace")})
        await world.edit("cus_grace", {"email_addresses": ["grace@navy.example"]})
        # Braintree's own edit of Grace's email comes later: it is kept.
        data.edit_customer(
            "cus_grace", datetime.now(UTC) + timedelta(seconds=2), email="grace@braintree.example"
        )

        dry = await world.run(dry_run=True)
        assert dry.ok, dry.summary_lines()
        assert [(p.customer_id, p.changed) for p in dry.plan] == [("cus_ada", ("last_name",))]
        assert dry.counts.updated == 1 and dry.counts.notes["kept"] == 1
        assert data.updates == []  # a dry run writes nothing
        state = await world.bridge.attio_service.sync_runner.load_state()
        assert state is None or state.last_run is None  # nothing recorded

        report = await world.run()
        assert report.ok, report.summary_lines()
        assert report.counts.totals() == {"created": 0, "updated": 1, "unchanged": 2, "failed": 0}
        assert report.counts.notes == {"kept": 1, "missing": 0}
        assert data.updates == [("cus_ada", {"last_name": "Lovelace"})]
        assert data.customers["cus_ada"]["last_name"] == "Lovelace"
        assert data.customers["cus_grace"]["email"] == "grace@braintree.example"
        state = await world.bridge.attio_service.sync_runner.load_state()
        assert state is not None and state.last_run is not None
        assert state.last_run.outcome == "succeeded" and state.last_run.counts["updated"] == 1

        again = await world.run()
        assert again.counts.totals() == {"created": 0, "updated": 0, "unchanged": 3, "failed": 0}
        assert len(data.updates) == 1  # nothing sent twice


async def test_a_company_rename_and_a_new_phone_reach_braintree(stand_in) -> None:
    async with world_for(stand_in) as world:
        company = await world.attio.assert_record(
            "companies", matching_attribute="domains", values={"domains": ["hopper.example"]}
        )
        company_id = company["id"]["record_id"]
        await world.edit(
            "cus_grace",
            {
                "company": [{"target_object": "companies", "target_record_id": company_id}],
                "phone_numbers": [{"original_phone_number": "+14155550100"}],
            },
        )
        await world.attio.update_record("companies", company_id, {"name": "Hopper Labs"})
        report = await world.run()
        assert report.ok, report.summary_lines()
        grace = world.data.customers["cus_grace"]
        assert grace["company"] == "Hopper Labs" and grace["phone"] == "+14155550100"


async def test_a_failed_update_is_ledgered_and_replayed(stand_in) -> None:
    async with world_for(stand_in) as world:
        await world.edit("cus_alan", {"name": name("Alan M.", "Turing")})
        world.data.fail("PUT customer", 503)
        report = await world.run()
        assert not report.ok and report.counts.failed == 1
        key = f"attio:sync:person:{world.people['cus_alan']}"
        assert [f.event_key for f in report.failures] == [key]
        (entry,) = await world.bridge.ledger.list_entries(status=LedgerStatus.failed)
        assert entry.event_key == key
        assert json.loads(entry.raw.body)["customer_id"] == "cus_alan"

        result = await world.bridge.replayer.replay_key(key)
        assert result.status.value == "replayed", result
        assert world.data.customers["cus_alan"]["first_name"] == "Alan M."
        (after,) = await world.bridge.ledger.list_entries()
        assert after.status is LedgerStatus.replayed


async def test_a_429_from_braintree_is_waited_out_not_failed(stand_in) -> None:
    async with world_for(stand_in) as world:
        await world.edit("cus_ada", {"name": name("Ada", "Lovelace")})
        world.data.fail("GET customer", 429, times=3)
        report = await world.run()
        assert report.ok, report.summary_lines()
        assert report.counts.totals() == {"created": 0, "updated": 1, "unchanged": 2, "failed": 0}
        # Three customers read (and Ada's again before the update), three reads refused.
        assert world.data.calls["GET customer"] == 3 + 1 + 3


async def test_a_customer_braintree_lacks_is_noted_not_failed(stand_in) -> None:
    async with world_for(stand_in) as world:
        await world.edit("cus_alan", {"braintree_customer_id": "cus_nobody"})
        report = await world.run()
        assert report.ok and report.counts.notes["missing"] == 1
        assert report.counts.unchanged == 2


async def test_the_watch_hook_starts_one_catch_up_in_the_background(stand_in) -> None:
    async with world_for(stand_in) as world:
        watch = world.bridge.watch
        assert watch is not None and watch.on_attio_webhook_back is not None
        await world.edit("cus_ada", {"name": name("Ada", "Lovelace")})
        world.data.latency_seconds = 0.05  # still going when the hook is called again
        await watch.on_attio_webhook_back()
        runner = world.bridge.attio_service.sync_runner
        first = runner.last
        assert first is not None and runner.running
        await watch.on_attio_webhook_back()  # one run at a time: this one is skipped
        assert runner.last is first
        await runner.wait()
        assert first.status.value == "succeeded", first.as_dict()
        assert world.data.customers["cus_ada"]["last_name"] == "Lovelace"


async def test_the_watch_hook_does_nothing_when_attio_edits_do_not_reach_braintree() -> None:
    settings = bridge_settings(ATTIO_TO_BRAINTREE_SYNC="false")
    sandbox_app = make_sandbox()
    await bootstrap(sandbox_app, settings)
    attio = sandbox_attio_client(sandbox_app)
    async with attio, build_bridge(settings, attio, braintree=None) as bridge:
        assert bridge.watch is not None and bridge.watch.on_attio_webhook_back is not None
        await bridge.watch.on_attio_webhook_back()
        assert bridge.attio_service.sync_runner.last is None


# -- the admin API and the command -----------------------------------------------------------


@pytest.fixture
def harness_with_stand_in(stand_in) -> Iterator[Harness]:
    _data, client = stand_in
    yield from start_harness(braintree=client)


def wait_for_run(h: Harness) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while (status := h.client.get("/admin/sync/attio", headers=ADMIN).json())[
        "running"
    ] and time.monotonic() < deadline:
        time.sleep(0.05)
    return status


def test_admin_starts_a_catch_up_refuses_a_second_and_lists_it(
    harness_with_stand_in: Harness, stand_in
) -> None:
    h = harness_with_stand_in
    data, _client = stand_in
    people = h.client.portal.call(seed_people, h.bridge.attio_client, data)
    assert len(people) == 3
    data.latency_seconds = 0.05  # the run is still going when the second POST comes
    started = h.client.post("/admin/sync/attio", headers=ADMIN)
    assert started.status_code == 202, started.text
    assert started.json()["status"] == "running"
    refused = h.client.post("/admin/sync/attio", headers=ADMIN)
    assert refused.status_code == 409 and refused.json()["error"] == "sync_running"
    status = wait_for_run(h)
    assert status["last_run"]["status"] == "succeeded"
    assert status["last_run"]["summary"]["counts"]["unchanged"] == 3
    listed = h.client.get("/admin/sync", headers=ADMIN).json()["sources"]
    attio = next(entry for entry in listed if entry["source"] == "attio")
    assert attio["recorded"]["last_run"]["outcome"] == "succeeded"
    assert h.client.post("/admin/sync/attio").status_code == 401


def test_admin_answers_503_without_braintree() -> None:
    for h in start_harness({"ATTIO_TO_BRAINTREE_SYNC": "false"}):
        answer = h.client.post("/admin/sync/attio", headers=ADMIN)
        assert answer.status_code == 503 and answer.json()["error"] == "attio_to_braintree_off"


def test_the_command_prints_the_plan_then_sends(
    harness_with_stand_in: Harness, stand_in, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = harness_with_stand_in
    data, client = stand_in
    people = h.client.portal.call(seed_people, h.bridge.attio_client, data)
    h.client.portal.call(
        h.bridge.attio_client.update_record, "people", people["cus_ada"], {"name": name("A", "L")}
    )
    commands_against(monkeypatch, h.sandbox_app, client)
    root = typer.Typer()
    root.add_typer(cli_sync.sync_cli, name="sync")
    try:
        dry = CliRunner().invoke(root, ["sync", "attio", "--dry-run"])
        assert dry.exit_code == 0, dry.output
        assert "update  cus_ada" in dry.stdout and "[first_name,last_name]" in dry.stdout
        assert "customer      would write created=0 updated=1 unchanged=2" in dry.stdout
        assert data.updates == []
        real = CliRunner().invoke(root, ["sync", "attio", "--json"])
        assert real.exit_code == 0, real.output
        body = json.loads(real.stdout)
        assert body["counts"]["updated"] == 1 and body["source"] == "attio"
        assert data.customers["cus_ada"]["first_name"] == "A"
    finally:
        get_settings.cache_clear()
