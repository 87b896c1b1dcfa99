"""What an anonymous `/readyz` flood costs in Attio reads, with the bridge not ready.

Two cases against the in-process Attio sandbox (no network), default client settings:
- schema incomplete: Attio answers, but the bridge's objects were never created;
- outage: every Attio call takes `--outage-latency` seconds.

Each case sends `--requests` GETs from `--clients` concurrent clients and prints the Attio reads
they cost and the slowest answer.

    .venv/bin/python -m bench.readyz_flood [--requests 200 --clients 20]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import time

import httpx

from app.main import create_app
from attio_sandbox import FaultConfig, SandboxConfig, SandboxState, create_sandbox_app
from bench._record import add_record_option, recording
from testkit.settings import make_settings

# Production settings take plain http only to a private host (no dot); the transport ignores it.
SANDBOX_URL = "http://attio-sandbox"


async def flood(requests: int, clients: int, outage_latency: float | None) -> dict[str, float]:
    sandbox_app = create_sandbox_app(SandboxConfig(faults=FaultConfig(rate_limits=False)))
    sandbox: SandboxState = sandbox_app.state.sandbox
    if outage_latency is not None:
        sandbox.faults.latency_ms = outage_latency * 1000
    settings = make_settings(SANDBOX_URL, production=True)
    app = create_app(settings, attio_transport=httpx.ASGITransport(app=sandbox_app))
    left = list(range(requests))
    slowest = 0.0
    statuses: dict[int, int] = {}

    async def client(bridge: httpx.AsyncClient) -> None:
        nonlocal slowest
        while left:
            left.pop()
            started = time.perf_counter()
            response = await bridge.get("/readyz")
            slowest = max(slowest, time.perf_counter() - started)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

    transport = httpx.ASGITransport(app=app)
    started = time.perf_counter()
    async with httpx.AsyncClient(transport=transport, base_url="http://bridge", timeout=60) as b:
        await asyncio.gather(*(client(b) for _ in range(clients)))
    elapsed = time.perf_counter() - started
    await app.state.attio.aclose()
    return {
        "attio_reads": sandbox.requests.count(kind="read"),
        "elapsed_s": round(elapsed, 2),
        "slowest_s": round(slowest, 2),
        "status_503": statuses.get(503, 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--outage-latency", type=float, default=5.0)
    add_record_option(parser)
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)
    os.environ.setdefault("LOG_LEVEL", "CRITICAL")
    with recording("readyz_flood", "Anonymous /readyz floods", enabled=args.record):
        for name, latency in (("schema incomplete", None), ("outage", args.outage_latency)):
            figures = asyncio.run(flood(args.requests, args.clients, latency))
            print(f"{name}: {args.requests} requests from {args.clients} clients: {figures}")


if __name__ == "__main__":
    main()
