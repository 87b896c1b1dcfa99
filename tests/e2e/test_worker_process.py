"""`attio-bridge worker` as deployed: a process on a real Redis, stopped by SIGTERM."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from app.clients.redis import connect as connect_redis
from app.events.queue import GROUP, STREAM
from testkit.fake_zoho import ITEM
from testkit.processes import free_port
from testkit.signing import zoho_signed_headers
from testkit.stack import SandboxOptions, Stack, bridge_environment

ITEMS = [
    {**ITEM, "item_id": f"20000000009{n:02d}", "name": f"Workshop {n}", "sku": f"SVC-{n}"}
    for n in range(8)
]


@pytest.fixture
async def stack(tmp_path: Path, redis_url: str) -> AsyncIterator[Stack]:
    stack = Stack(tmp_path, SandboxOptions(rate_limits=False))
    stack.bridge_env = bridge_environment(stack.sandbox_url, free_port(), REDIS_URL=redis_url)
    try:
        await stack.start_sandbox()
        stack.bootstrap()
        await stack.start_bridge()
        yield stack
    finally:
        stack.close()


async def test_the_worker_process_drains_the_queue_and_stops_cleanly_on_sigterm(
    stack: Stack, redis_url: str
) -> None:
    async with httpx.AsyncClient(base_url=stack.bridge_url, timeout=30) as client:
        for item in ITEMS:
            body = json.dumps({"item": item}).encode()
            response = await client.post(
                "/webhooks/zoho", content=body, headers=zoho_signed_headers(body)
            )
            assert response.json() == {"events": 1, "queued": 1}
    assert await stack.records("services") == []  # nothing written before a worker runs

    worker = stack.start_worker()
    wanted = {item["item_id"] for item in ITEMS}
    for _ in range(600):  # bounded wait for the worker to write every item
        written = {r["values"]["zoho_item_id"] for r in await stack.records("services")}
        if written >= wanted or worker.poll() is not None:
            break
        await asyncio.sleep(0.1)
    assert written == wanted

    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=60) == 0
    redis = connect_redis(redis_url)
    try:
        assert (await redis.xpending(STREAM, GROUP))["pending"] == 0
        [group] = await redis.xinfo_groups(STREAM)
        assert group["lag"] == 0
    finally:
        await redis.aclose()
