"""Fixtures: a fresh sandbox per test (rate limits off unless a test turns them on)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from attio_sandbox import FaultConfig, SandboxConfig, create_sandbox_app
from tests.attio_sandbox.support import AUTH, BASE_URL


@pytest.fixture
def sandbox_app() -> FastAPI:
    """The sandbox exactly as configured by default (the shared one pins a seed)."""
    return create_sandbox_app(SandboxConfig(faults=FaultConfig(rate_limits=False)))


@pytest.fixture
async def client(sandbox_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=sandbox_app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers=AUTH) as http:
        yield http
