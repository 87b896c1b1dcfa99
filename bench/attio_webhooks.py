"""Signed Attio webhooks per second through the real bridge process, against the Attio sandbox.

Starts the Attio sandbox (enforcing Attio's limits, with latency) and the bridge (uvicorn) as
separate processes on loopback, seeds people in the sandbox, then sends signed `record.updated`
deliveries from concurrent senders. Each event is handled the way Attio record events are: the
bridge fetches the record from Attio (one read). Reports acknowledged requests/s, latency
percentiles and the Attio calls made.

    .venv/bin/python -m bench.attio_webhooks [--requests 1000] [--concurrency 16] [--latency-ms 40]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

from app.clients.attio import AttioClient
from bench._record import add_record_option, recording
from bench._stats import percentile
from testkit.processes import free_port, wait_until_up
from testkit.signing import ATTIO_TEST_SECRET, attio_signed_headers

ROOT = Path(__file__).resolve().parents[1]
PEOPLE = 200


@contextmanager
def process(args: list[str], env: dict[str, str] | None = None):
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and modules
        args,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def delivery(record_id: str, n: int) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {
            "webhook_id": "bench-webhook",
            "events": [
                {
                    "event_type": "record.updated",
                    "id": {
                        "workspace_id": "ws",
                        "object_id": "people",
                        "record_id": record_id,
                        "attribute_id": "name",
                    },
                    "actor": {"type": "workspace-member", "id": "member"},
                }
            ],
        }
    ).encode()
    return body, {**attio_signed_headers(body), "Idempotency-Key": f"bench-{n}"}


async def seed_people(base_url: str) -> list[str]:
    async with AttioClient(api_key="bench", base_url=base_url) as attio:
        records = await asyncio.gather(
            *(
                attio.assert_record(
                    "people",
                    matching_attribute="email_addresses",
                    values={"email_addresses": [f"person{i}@example.com"]},
                )
                for i in range(PEOPLE)
            )
        )
    return [record["id"]["record_id"] for record in records]


async def load(bridge_url: str, record_ids: list[str], requests: int, concurrency: int):
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(requests):
        queue.put_nowait(n)

    async def sender(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            n = queue.get_nowait()
            body, headers = delivery(record_ids[n % len(record_ids)], n)
            started = time.perf_counter()
            response = await client.post("/webhooks/attio", content=body, headers=headers)
            latencies.append(time.perf_counter() - started)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=bridge_url, limits=limits, timeout=60) as client:
        started = time.perf_counter()
        await asyncio.gather(*(sender(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return latencies, statuses, elapsed


async def sandbox_calls(base_url: str) -> dict:
    async with httpx.AsyncClient(base_url=base_url) as client:
        return (await client.get("/_sandbox/requests", params={"recent": 0})).json()


async def main(args: argparse.Namespace) -> None:
    sandbox_port, bridge_port = free_port(), free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    bridge_url = f"http://127.0.0.1:{bridge_port}"
    python = sys.executable
    sandbox_args = [
        python,
        "-m",
        "attio_sandbox",
        "--port",
        str(sandbox_port),
        "--latency-ms",
        str(args.latency_ms),
        "--jitter-ms",
        str(args.latency_ms / 4),
    ]
    bridge_env = {
        "BRIDGE_ENV": "production",
        "LOG_LEVEL": "WARNING",
        "ATTIO_API_KEY": "bench-key-0123456789",
        "ATTIO_BASE_URL": sandbox_url,
        "ATTIO_WEBHOOK_SECRET": ATTIO_TEST_SECRET,
    }
    bridge_args = [python, "-m", "bench._bridge_server", "--port", str(bridge_port)]
    with process(sandbox_args):
        await wait_until_up(f"{sandbox_url}/_sandbox/faults")
        record_ids = await seed_people(sandbox_url)
        with process(bridge_args, bridge_env):
            await wait_until_up(f"{bridge_url}/healthz")
            await load(bridge_url, record_ids, min(50, args.requests), args.concurrency)  # warm-up
            before = await sandbox_calls(sandbox_url)
            latencies, statuses, elapsed = await load(
                bridge_url, record_ids, args.requests, args.concurrency
            )
            after = await sandbox_calls(sandbox_url)
    calls = after["total"] - before["total"]
    print(
        f"signed Attio webhooks -> bridge (uvicorn) -> Attio sandbox "
        f"(latency {args.latency_ms} ms, Attio limits enforced)"
    )
    print(f"requests {args.requests}, concurrency {args.concurrency}, statuses {statuses}")
    print(f"acknowledged/s  {args.requests / elapsed:8.1f}")
    print(
        f"latency ms      p50 {statistics.median(latencies) * 1000:.1f}"
        f"  p95 {percentile(latencies, 0.95) * 1000:.1f}"
        f"  p99 {percentile(latencies, 0.99) * 1000:.1f}"
    )
    print(f"Attio calls     {calls} ({calls / args.requests:.2f} per event)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency-ms", type=float, default=40.0)
    add_record_option(parser)
    arguments = parser.parse_args()
    title = "Signed Attio webhooks through uvicorn against the sandbox"
    with recording("attio_webhooks", title, enabled=arguments.record):
        asyncio.run(main(arguments))
