"""What one `attio-bridge watch` pass costs, and how soon a degraded Attio webhook is alerted.

In-process: the Attio sandbox (optionally with a per-call latency like Attio's), the bridge
built from settings with every alert channel on, alert receivers on an in-memory transport.
It registers the webhook, runs a quiet pass, turns the webhook `degraded` and runs passes
until the Slack receiver has the alert, then a steady pass and the recovery pass. Prints the
Attio reads and writes of each pass and the time from the status change to the alert (the
pass alone: a deployment adds up to the cron interval, 5 minutes, before the pass starts).

    .venv/bin/python -m bench.watch [--latency-ms 80]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import time
from datetime import UTC, datetime
from typing import Any

import httpx

from app.bridge import build_bridge
from app.clients.attio import AttioClient
from app.log import configure_logging
from app.schema import SchemaBootstrap
from app.services.attio.webhooks import register_webhook
from app.services.syncstate import LastRun, SyncStateStore
from attio_sandbox import FaultConfig, SandboxConfig, create_sandbox_app
from bench._record import add_record_option, recording
from testkit.settings import make_settings

PUBLIC_URL = "https://bridge.example.com"
SLACK_URL = "https://hooks.slack.test/services/T/B/X"


async def run(latency_ms: float) -> dict[str, Any]:
    faults = FaultConfig(rate_limits=False, latency_ms=latency_ms)
    sandbox_app = create_sandbox_app(SandboxConfig(faults=FaultConfig(rate_limits=False)))
    sandbox = sandbox_app.state.sandbox
    settings = make_settings(
        "http://attio.sandbox",
        PUBLIC_URL=PUBLIC_URL,
        ZOHO_CRM_NOTIFY_TOKEN="",
        ALERT_SLACK_WEBHOOK_URL=SLACK_URL,
        ALERT_WEBHOOK_URL="https://alerts.example.test/hook",
        ALERT_WEBHOOK_SECRET="whsec_" + base64.b64encode(b"bench-secret-0123456789").decode(),
        ALERT_ATTIO_ASSIGNEE="operator@sandbox.test",
    )
    slack_at: list[float] = []

    def receive(request: httpx.Request) -> httpx.Response:
        if str(request.url) == SLACK_URL:
            slack_at.append(time.perf_counter())
        return httpx.Response(200)

    transport = httpx.ASGITransport(app=sandbox_app)
    async with AttioClient(
        api_key="k", base_url="http://attio.sandbox", transport=transport
    ) as attio:
        await SchemaBootstrap.from_settings(attio, settings).run(apply=True)
        now = datetime.now(UTC)  # a healthy Braintree sync, so only the webhook fires
        for source in ("braintree", "attio"):  # both syncs ran: a quiet pass is quiet
            await SyncStateStore(attio).record_run(source, LastRun(now, now, "succeeded"))
        registration = await register_webhook(
            attio, target_url=f"{PUBLIC_URL}/webhooks/attio", own_actor_ids=[]
        )
        sandbox.configure_faults(latency_ms=faults.latency_ms)
        async with build_bridge(settings, attio) as bridge:
            watch = bridge.watch
            assert watch is not None
            watch.alert_transport = httpx.MockTransport(receive)

            async def measured_pass() -> dict[str, int]:
                sandbox.requests.clear()
                await watch.run_pass()
                return {
                    "reads": sandbox.requests.count(kind="read"),
                    "writes": sandbox.requests.count(kind="write"),
                }

            figures: dict[str, Any] = {"quiet": await measured_pass()}
            assert not slack_at, "the quiet pass alerted"
            sandbox.webhooks.get(registration.webhook_id).status = "degraded"
            degraded_at = time.perf_counter()
            figures["alerting"] = await measured_pass()
            figures["degraded_to_alert_ms"] = round((slack_at[0] - degraded_at) * 1000, 1)
            figures["steady"] = await measured_pass()
            sandbox.webhooks.get(registration.webhook_id).status = "active"
            figures["recovery"] = await measured_pass()
            figures["latency_ms_per_attio_call"] = latency_ms
            return figures


def main() -> None:
    configure_logging("ERROR", json=False)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=0.0)
    add_record_option(parser)
    arguments = parser.parse_args()
    with recording("watch", "One watch pass", enabled=arguments.record):
        figures = asyncio.run(run(arguments.latency_ms))
        for name, value in figures.items():
            print(f"{name}: {value}")


if __name__ == "__main__":
    main()
