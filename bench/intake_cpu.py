"""The bridge's own CPU time per webhook event, per provider, with no network.

Two figures per provider:
- pipeline: signature verification + parsing + normalisation + dispatch (source + processor
  with a no-op handler), called directly;
- full request: the same through the whole ASGI app, called directly in-process (routing,
  middleware, body reading, JSON response, one JSON log line), still with a no-op handler.
  No HTTP client runs in the process, so its CPU is not counted.

Settings are production-like (JSON log lines at INFO, written to /dev/null). Prints the median
and p95 of per-event CPU time over repeated batches.

    .venv/bin/python -m bench.intake_cpu [--events 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import time
from collections.abc import Awaitable, Callable

import httpx

from app.config import Settings
from app.events.dispatcher import Dispatcher
from app.events.model import RawRequest, Source, WebhookEvent
from app.main import create_app
from bench._record import add_record_option, recording
from testkit.signing import (
    ATTIO_TEST_SECRET,
    BRAINTREE_TEST_CREDENTIALS,
    ZOHO_TEST_SECRET,
    attio_signed_headers,
    braintree_fixture,
    braintree_form_body,
    zoho_signed_headers,
)

BATCH = 100


def settings() -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        BRIDGE_ENV="production",
        LOG_LEVEL="INFO",
        ATTIO_API_KEY="bench-key-0123456789",
        ATTIO_BASE_URL="http://attio.invalid",
        ATTIO_WEBHOOK_SECRET=ATTIO_TEST_SECRET,
        ZOHO_WEBHOOK_SECRET=ZOHO_TEST_SECRET,
        BRAINTREE_ENVIRONMENT=BRAINTREE_TEST_CREDENTIALS["environment"],
        BRAINTREE_MERCHANT_ID=BRAINTREE_TEST_CREDENTIALS["merchant_id"],
        BRAINTREE_PUBLIC_KEY=BRAINTREE_TEST_CREDENTIALS["public_key"],
        BRAINTREE_PRIVATE_KEY=BRAINTREE_TEST_CREDENTIALS["private_key"],
    )


def requests_by_provider() -> dict[Source, tuple[str, bytes, dict[str, str]]]:
    attio = json.dumps(
        {
            "webhook_id": "23e42eaf-323a-41da-b5bb-fd67eebda553",
            "events": [
                {
                    "event_type": "record.updated",
                    "id": {
                        "workspace_id": "14beef7a-99f7-4534-a87e-70b564330a4c",
                        "object_id": "97052eb9-e65e-443f-a297-f2d9a4a7f795",
                        "record_id": "bf071e1f-6035-429d-b874-d83ea64ea13b",
                        "attribute_id": "41252299-f8c7-4b5e-99c9-4ff8321d2f96",
                    },
                    "actor": {"type": "workspace-member", "id": "50cf242c-7fa3-4cad-87d0"},
                }
            ],
        }
    ).encode()
    zoho = json.dumps(
        {
            "item": {
                "item_id": "2000000000101",
                "name": "Onboarding workshop",
                "status": "active",
                "rate": 250.0,
                "sku": "SVC-ONB-1",
                "product_type": "service",
                "unit": "session",
                "description": "Half-day remote session",
                "last_modified_time": "2026-05-02T09:14:03-0700",
            }
        }
    ).encode()
    # A realistic subscription notification with a transaction and customer details.
    braintree = braintree_form_body(*braintree_fixture("subscription_charged_successfully"))
    return {
        Source.attio: (
            "/webhooks/attio",
            attio,
            {**attio_signed_headers(attio), "Idempotency-Key": "bench"},
        ),
        Source.zoho: ("/webhooks/zoho", zoho, zoho_signed_headers(zoho)),
        Source.braintree: (
            "/webhooks/braintree",
            braintree,
            {"Content-Type": "application/x-www-form-urlencoded"},
        ),
    }


async def cpu_per_event(run_one: Callable[[], Awaitable[None]], events: int) -> list[float]:
    """CPU seconds per event, one sample per batch of BATCH events."""
    for _ in range(BATCH):  # warm-up: imports, caches, first-call costs
        await run_one()
    samples = []
    for _ in range(max(events // BATCH, 1)):
        started = time.process_time()
        for _ in range(BATCH):
            await run_one()
        samples.append((time.process_time() - started) / BATCH)
    return samples


def report(label: str, samples: list[float]) -> None:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    print(
        f"{label:<28} median {statistics.median(samples) * 1000:7.3f} ms/event"
        f"   p95 {p95 * 1000:7.3f} ms/event   ({len(samples) * BATCH} events)"
    )


def empty_attio() -> httpx.MockTransport:
    """Attio holding no ledger records (the processor checks for known failures)."""
    return httpx.MockTransport(lambda _request: httpx.Response(200, json={"data": []}))


async def call_asgi(app, path: str, body: bytes, headers: dict[str, str]) -> int:
    """One POST straight into the ASGI app; returns the status code."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        + [(b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 1234),
        "server": ("bridge", 80),
    }
    sent = False
    status = 0

    async def receive():
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def main(events: int) -> None:
    app = create_app(settings(), attio_transport=empty_attio())
    devnull = open(os.devnull, "w")  # noqa: SIM115, ASYNC230 - lives as long as the process
    for handler in logging.getLogger().handlers:
        handler.setStream(devnull)  # type: ignore[attr-defined]
    bridge = app.state.bridge

    async def no_op(_event: WebhookEvent) -> None:
        return None

    # Only verification, parsing and dispatch: the real services' handlers are swapped out.
    bridge.processor.dispatcher = Dispatcher()
    for source in Source:
        bridge.processor.dispatcher.register(source, "*", no_op)
    requests = requests_by_provider()
    print(f"own CPU per event, no network ({events} events per figure)")
    for source, (path, body, headers) in requests.items():
        raw = RawRequest(
            body=body.decode(),
            headers={k.lower(): v for k, v in headers.items()},
            path=path,
        )

        async def pipeline(source: Source = source, raw: RawRequest = raw) -> None:
            parsed = await bridge.sources[source].events_from(raw)
            await bridge.processor.process_delivery(parsed)

        report(f"{source.value} pipeline", await cpu_per_event(pipeline, events))

    for source, (path, body, headers) in requests.items():

        async def full(path: str = path, body: bytes = body, headers=headers) -> None:
            status = await call_asgi(app, path, body, headers)
            assert status == 200, status

        report(f"{source.value} full request", await cpu_per_event(full, events))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    add_record_option(parser)
    arguments = parser.parse_args()
    with recording("intake_cpu", "The bridge's own CPU per event", enabled=arguments.record):
        asyncio.run(main(arguments.events))
