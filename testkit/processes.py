"""Small helpers for runs (benchmarks, the reliability run) of the bridge and the sandbox as
real processes."""

from __future__ import annotations

import asyncio
import socket
import time

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def wait_until_up(url: str, within_seconds: float = 30.0) -> None:
    deadline = time.monotonic() + within_seconds
    async with httpx.AsyncClient() as client:
        while True:
            try:
                if (await client.get(url)).status_code < 500:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not come up within {within_seconds} s")
            await asyncio.sleep(0.1)
