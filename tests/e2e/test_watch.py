"""Watch end to end: the Attio webhook goes `degraded`, every channel is told once (Slack, the
signed webhook, an Attio task), it recovers, every channel hears `resolved`, and the Attio →
Braintree catch-up sends the edits made meanwhile."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from standardwebhooks.webhooks import Webhook
from typer.testing import CliRunner

import app.cli._common as cli_common
from app.bridge import Bridge
from app.cli import cli
from app.clients.braintree import BraintreeClient
from app.config import Settings, get_settings
from app.events.model import RawRequest, Source
from app.services.attio.webhooks import register_webhook
from app.services.syncstate import LastRun, SyncStateStore
from testkit.braintree_api import BraintreeData, braintree_api, sdk_gateway
from testkit.signing import (
    ATTIO_TEST_SECRET,
    attio_signed_headers,
    braintree_fixture,
    braintree_form_body,
)
from tests.conftest import sandbox_attio_client
from tests.e2e.conftest import ADMIN_TOKEN, Harness, commands_against, start_harness
from tests.services.alerts.conftest import ALERT_SECRET, ALERT_URL, SLACK_URL, Receivers

PUBLIC_URL = "https://bridge.example.com"
ALERTS = {
    "PUBLIC_URL": PUBLIC_URL,
    "ZOHO_CRM_NOTIFY_TOKEN": "",  # no Zoho API here: CRM notifications off
    "ALERT_SLACK_WEBHOOK_URL": SLACK_URL,
    "ALERT_WEBHOOK_URL": ALERT_URL,
    "ALERT_WEBHOOK_SECRET": ALERT_SECRET,
    "ALERT_ATTIO_ASSIGNEE": "operator@sandbox.test",
}
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def receivers() -> Receivers:
    return Receivers()


@pytest.fixture
def braintree_data() -> Iterator[tuple[BraintreeData, BraintreeClient]]:
    """Braintree's API: the stand-in, with one customer last changed yesterday."""
    data = BraintreeData()
    yesterday = datetime.now(UTC) - timedelta(days=1)
    data.add_customer("cus_ada", "ada@example.com", "Ada", "Byron", updated_at=yesterday)
    with braintree_api(data) as port:
        yield data, BraintreeClient(sdk_gateway(port), retry_delay=0)


@pytest.fixture
def h(
    receivers: Receivers, braintree_data: tuple[BraintreeData, BraintreeClient]
) -> Iterator[Harness]:
    for harness in start_harness(ALERTS, braintree=braintree_data[1]):
        watch = harness.bridge.watch
        assert watch is not None
        watch.alert_transport = receivers.transport
        watch.retry_wait = 0

        async def prepare(harness: Harness = harness) -> None:
            async with harness.attio_client() as attio:
                await register_webhook(
                    attio, target_url=f"{PUBLIC_URL}/webhooks/attio", own_actor_ids=[]
                )
                now = datetime.now(UTC)
                for source in ("braintree", "attio"):  # both syncs ran: no sync.* alert
                    await SyncStateStore(attio).record_run(source, LastRun(now, now, "succeeded"))

        asyncio.run(prepare())
        yield harness


def set_status(h: Harness, status: str) -> None:
    (webhook,) = h.sandbox.webhooks.all()
    with TestClient(h.sandbox_app) as sandbox:
        answer = sandbox.put(
            f"/_sandbox/webhooks/{webhook.id}/status", json={"data": {"status": status}}
        )
        assert answer.status_code == 200, answer.text


def watch_pass(h: Harness, *, alert: bool = True) -> dict[str, Any]:
    watch = h.bridge.watch
    assert watch is not None
    report = h.client.portal.call(lambda: watch.run_pass(alert=alert))
    return report.as_dict()


def states(report: dict[str, Any]) -> dict[str, str]:
    return {row["check"]: row["state"] for row in report["checks"]}


def calls(h: Harness) -> dict[str, int]:
    requests = h.sandbox.requests
    return {"reads": requests.count(kind="read"), "writes": requests.count(kind="write")}


def test_degraded_webhook_alerts_everywhere_then_resolves(
    h: Harness, receivers: Receivers, braintree_data: tuple[BraintreeData, BraintreeClient]
) -> None:
    data, _client = braintree_data
    ada_name = [{"first_name": "Ada", "last_name": "Byron", "full_name": "Ada Byron"}]
    ada = h.client.portal.call(
        lambda: h.bridge.attio_client.assert_record(
            "people",
            matching_attribute="email_addresses",
            values={
                "email_addresses": ["ada@example.com"],
                "name": ada_name,
                "braintree_customer_id": "cus_ada",
            },
        )
    )
    quiet = watch_pass(h)
    assert states(quiet)["attio.webhook"] == "ok" and quiet["ok"]
    assert quiet["alerts"]["sent"] == [] and receivers.requests == []

    set_status(h, "degraded")
    h.sandbox.requests.clear()
    firing = watch_pass(h)
    row = next(r for r in firing["checks"] if r["check"] == "attio.webhook")
    assert row["state"] == "warning" and "degraded" in row["message"] and row["since"]
    assert firing["ok"]  # a warning: the cron run still succeeds
    (slack,) = receivers.bodies(SLACK_URL)
    assert slack["text"].startswith("[warning] attio.webhook: the webhook for")
    (signed,) = receivers.to(ALERT_URL)
    payload = Webhook(ALERT_SECRET).verify(signed.content, dict(signed.headers))
    assert (payload["check"], payload["state"], payload["severity"]) == (
        "attio.webhook",
        "firing",
        "warning",
    )
    (task,) = h.sandbox.tasks.tasks.values()
    assert task.assignees == [h.sandbox.config.workspace_member_id] and not task.is_completed
    alerting = calls(h)
    # Still degraded: nothing is sent or written again.
    h.sandbox.requests.clear()
    again = watch_pass(h)
    assert again["alerts"]["sent"] == [] and len(receivers.requests) == 2
    assert calls(h)["writes"] == 0
    steady = calls(h)
    # Edited in Attio while the webhook is degraded: the edit never reaches the bridge.
    lovelace = [{"first_name": "Ada", "last_name": "Lovelace", "full_name": "Ada Lovelace"}]
    h.client.portal.call(
        lambda: h.bridge.attio_client.update_record(
            "people", ada["id"]["record_id"], {"name": lovelace}
        )
    )
    assert data.updates == []

    set_status(h, "active")
    resolved = watch_pass(h)
    assert states(resolved)["attio.webhook"] == "ok"
    assert [b["text"].split(":")[0] for b in receivers.bodies(SLACK_URL)] == [
        "[warning] attio.webhook",
        "[resolved] attio.webhook",
    ]
    last = receivers.to(ALERT_URL)[-1]
    assert Webhook(ALERT_SECRET).verify(last.content, dict(last.headers))["state"] == "resolved"
    assert task.is_completed
    # The pass that saw the webhook back started the catch-up in the background.
    runner = h.bridge.attio_service.sync_runner
    assert runner.last is not None
    h.client.portal.call(runner.wait)
    assert runner.last.status.value == "succeeded", runner.last.as_dict()
    assert data.updates == [("cus_ada", {"last_name": "Lovelace"})]
    # What a pass costs in Attio calls (the README quotes bench/watch.py's figures).
    assert steady["writes"] == 0 and steady["reads"] <= 12, steady
    assert alerting["writes"] <= 6, alerting

    health = h.client.get("/admin/health", headers=ADMIN)
    assert health.status_code == 200
    assert health.json()["checked_at"] == resolved["checked_at"]  # the last pass, not a new one
    assert h.client.get("/admin/health").status_code == 401


def test_health_computes_a_pass_on_demand_without_sending(h: Harness, receivers: Receivers) -> None:
    set_status(h, "inactive")
    health = h.client.get("/admin/health", headers=ADMIN).json()
    assert states(health)["attio.webhook"] == "critical" and not health["ok"]
    assert health["alerts"]["sent"] == [] and "on demand" in health["alerts"]["note"]
    assert receivers.requests == [] and h.sandbox.tasks.tasks == {}


def test_inactive_is_critical_and_watch_exits_1(
    h: Harness, receivers: Receivers, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_status(h, "inactive")
    for name, value in {**ALERTS, "ATTIO_API_KEY": "sandbox-key-0123456789"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ATTIO_WEBHOOK_SECRET", ATTIO_TEST_SECRET)
    monkeypatch.setenv("WATCH_SILENCE_BRAINTREE", "off")
    monkeypatch.setenv("LOG_LEVEL", "ERROR")
    get_settings.cache_clear()
    monkeypatch.setattr(
        cli_common, "attio_client_for_cli", lambda _s: sandbox_attio_client(h.sandbox_app)
    )
    opened = cli_common.cli_bridge

    @asynccontextmanager
    async def cli_bridge(settings: Settings) -> AsyncIterator[Bridge]:
        async with opened(settings) as bridge:
            assert bridge.watch is not None
            bridge.watch.alert_transport = receivers.transport  # the alert receivers
            yield bridge

    monkeypatch.setattr(cli_common, "cli_bridge", cli_bridge)
    try:
        result = CliRunner().invoke(cli, ["watch", "--json"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    assert states(report)["attio.webhook"] == "critical" and not report["ok"]
    assert [sent["check"] for sent in report["alerts"]["sent"]] == ["attio.webhook"]
    (slack,) = receivers.bodies(SLACK_URL)
    assert slack["text"].startswith("[critical] attio.webhook")
    table = CliRunner().invoke(cli, ["watch"])
    assert table.exit_code == 1 and "attio.webhook" in table.output and "critical" in table.output


def test_the_command_waits_for_the_catch_up_it_starts(
    h: Harness,
    receivers: Receivers,
    braintree_data: tuple[BraintreeData, BraintreeClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data, client = braintree_data
    ada = h.client.portal.call(
        lambda: h.bridge.attio_client.assert_record(
            "people",
            matching_attribute="email_addresses",
            values={"email_addresses": ["ada@example.com"], "braintree_customer_id": "cus_ada"},
        )
    )
    set_status(h, "inactive")
    env = {**ALERTS, "LOG_LEVEL": "ERROR", "ATTIO_WEBHOOK_SECRET": ATTIO_TEST_SECRET}
    commands_against(monkeypatch, h.sandbox_app, client, WATCH_SILENCE_BRAINTREE="off", **env)
    opened = cli_common.cli_bridge

    @asynccontextmanager
    async def cli_bridge(settings: Settings) -> AsyncIterator[Bridge]:
        async with opened(settings) as bridge:
            assert bridge.watch is not None
            bridge.watch.alert_transport = receivers.transport
            yield bridge

    monkeypatch.setattr(cli_common, "cli_bridge", cli_bridge)
    get_settings.cache_clear()
    try:
        assert CliRunner().invoke(cli, ["watch", "--json"]).exit_code == 1  # critical
        lovelace = [{"first_name": "Ada", "last_name": "Lovelace", "full_name": "Ada Lovelace"}]
        h.client.portal.call(
            lambda: h.bridge.attio_client.update_record(
                "people", ada["id"]["record_id"], {"name": lovelace}
            )
        )
        set_status(h, "active")
        data.latency_seconds = 0.05  # the run outlasts the pass that starts it
        back = CliRunner().invoke(cli, ["watch", "--json"])
    finally:
        get_settings.cache_clear()
    assert back.exit_code == 0, back.output
    assert states(json.loads(back.output))["attio.webhook"] == "ok"
    # The process ended only after the catch-up had sent the edit.
    assert data.updates == [("cus_ada", {"last_name": "Lovelace"})]


def test_a_verified_delivery_clears_silence_and_a_forged_one_does_not() -> None:
    for h in start_harness({"WATCH_SILENCE_ATTIO": "1h"}):
        assert h.bridge.watch is not None
        event = {"event_type": "note.created", "id": {"note_id": "n1"}, "actor": {"type": "system"}}
        body = json.dumps({"webhook_id": "wh", "events": [event]}).encode()
        forged = {"Content-Type": "application/json", "Attio-Signature": "0" * 64}
        assert h.client.post("/webhooks/attio", content=body, headers=forged).status_code == 401
        h.client.portal.call(h.bridge.watch.deliveries.flush)
        assert states(watch_pass(h, alert=False))["attio.silence"] == "warning"  # none verified
        headers = {**attio_signed_headers(body), "Idempotency-Key": "d-1"}
        assert h.client.post("/webhooks/attio", content=body, headers=headers).status_code == 200
        h.client.portal.call(h.bridge.watch.deliveries.flush)
        assert states(watch_pass(h, alert=False))["attio.silence"] == "ok"
        (record,) = [r for r in h.records("bridge_events") if r["values"]["event_key"]]
        assert record["values"]["event_key"] == "sync-state:delivery:attio"


@pytest.mark.parametrize("forged", [False, True], ids=["verified", "edited-in-attio"])
def test_a_dead_braintree_charge_tasks_the_operator_with_the_entry_and_the_payer(
    h: Harness, forged: bool
) -> None:
    """The Attio task links the ledger entry and the person who pays, found by parsing the
    stored delivery as a replay does; an entry that no longer verifies is linked alone."""
    bridge = h.bridge
    signed = braintree_form_body(*braintree_fixture("subscription_charged_unsuccessfully"))
    stored = signed.replace(b"bt_signature=test_public_key", b"bt_signature=other_key")
    assert stored != signed

    async def dead_charge() -> tuple[str, str]:
        payer = await bridge.attio_client.assert_record(
            "people",
            matching_attribute="email_addresses",
            values={"email_addresses": ["ada@example.com"], "braintree_customer_id": "cust_31fz"},
        )
        raw = RawRequest(body=signed.decode(), path="webhooks/braintree")
        (event,) = await bridge.sources[Source.braintree].events_from(raw)
        if forged:  # the stored request edited afterwards (here: its signature)
            event = event.model_copy(update={"raw": RawRequest(body=stored.decode())})
        entry = await bridge.ledger.record_failure(
            event, "Attio refused the payment", permanent=True, previous=None
        )
        return entry.record_id, payer["id"]["record_id"]

    entry, payer = h.client.portal.call(dead_charge)
    report = watch_pass(h)
    assert states(report)["ledger.dead"] == "critical"
    (task,) = h.sandbox.tasks.tasks.values()
    assert "ledger.dead" in task.content
    objects = {slug: h.sandbox.store.get_object(slug).id for slug in ("bridge_events", "people")}
    payer_link = [] if forged else [(objects["people"], payer)]
    assert task.linked_records == [(objects["bridge_events"], entry), *payer_link]
    # Still firing: the payers are not looked up again (only a task being created reads them).
    h.sandbox.requests.clear()
    assert watch_pass(h)["alerts"]["sent"] == []
    assert not [r for r in h.sandbox.requests.entries if "/objects/people/" in r.path]
