"""The Redis connection against a real server (the one the suite starts)."""

from __future__ import annotations

import pytest

from app.clients.redis import RedisConnectionError, connect
from testkit.processes import free_port


async def test_connects_and_round_trips(redis_url: str) -> None:
    client = connect(redis_url)
    try:
        await client.set("k", b"v")
        assert await client.get("k") == b"v"
    finally:
        await client.aclose()


async def test_unreachable_server_fails_fast() -> None:
    client = connect(f"redis://127.0.0.1:{free_port()}/0")
    try:
        with pytest.raises(RedisConnectionError):
            await client.ping()
    finally:
        await client.aclose()
