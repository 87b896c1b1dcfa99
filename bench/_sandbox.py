"""What the sync benchmarks share: the sandbox's own admin calls and this process's peak RSS."""

from __future__ import annotations

import resource
from typing import Any

import httpx


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


async def sandbox_get(url: str, path: str, *, recent: int = 0) -> dict[str, Any]:
    """An admin GET; of the request log, its last `recent` entries too."""
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        return (await client.get(path, params={"recent": recent})).json()


async def sandbox_call(url: str, method: str, path: str, body: Any = None) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        (await client.request(method, path, json=body)).raise_for_status()
