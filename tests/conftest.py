"""Fixtures shared by every suite: an Attio sandbox and a client on it, both in-process."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import settings

from app.clients.attio import AttioClient
from app.clients.redis import Redis
from app.clients.redis import connect as connect_redis
from attio_sandbox import FaultConfig, SandboxConfig, SandboxState, create_sandbox_app
from testkit.redis_server import RedisServer

# In CI (`CI` set, as `.ci/run` does) Hypothesis derives each test's examples from its source:
# a run is reproducible and cannot fail on an example no earlier run tried. Local runs draw new
# examples every time, and FUZZ_SCALE=N multiplies the fuzz tests' example counts for a longer hunt.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
FUZZ_SCALE = max(1, int(os.environ.get("FUZZ_SCALE") or 1))

SANDBOX_URL = "http://attio-sandbox"  # no dot: allowed in production too (private network)


def make_sandbox(*, max_objects: int | None = None) -> FastAPI:
    # No rate limits by default: tests that want them switch them on.
    faults = FaultConfig(rate_limits=False, seed=7)
    return create_sandbox_app(SandboxConfig(faults=faults, max_objects=max_objects))


def sandbox_attio_client(sandbox_app: FastAPI, **options: float) -> AttioClient:
    """A client on an in-process sandbox; fast limits unless a test asks otherwise."""
    return AttioClient(
        api_key="sandbox-key",
        base_url=SANDBOX_URL,
        transport=httpx.ASGITransport(app=sandbox_app),
        **{"write_rate": 10_000, "read_rate": 10_000, **options},  # type: ignore[arg-type]
    )


@pytest.fixture
def sandbox_app() -> FastAPI:
    return make_sandbox()


@pytest.fixture
def sandbox(sandbox_app: FastAPI) -> SandboxState:
    state: SandboxState = sandbox_app.state.sandbox
    return state


@pytest.fixture
async def sandbox_client(
    sandbox_app: FastAPI,
) -> AsyncIterator[tuple[AttioClient, SandboxState]]:
    async with sandbox_attio_client(sandbox_app) as client:
        yield client, sandbox_app.state.sandbox


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One real redis-server for the session (installed by `.ci/run` when missing)."""
    with RedisServer() as server:
        yield server


@pytest.fixture
async def redis_url(redis_server: RedisServer) -> AsyncIterator[str]:
    """The session's Redis, emptied for each test."""
    client = connect_redis(redis_server.url)
    try:
        await client.flushall()
    finally:
        await client.aclose()
    yield redis_server.url


@pytest.fixture
async def two_connections(redis_url: str) -> AsyncIterator[tuple[Redis, Redis]]:
    """Two connections to the session's Redis: two processes sharing it."""
    first, second = connect_redis(redis_url), connect_redis(redis_url)
    try:
        yield first, second
    finally:
        await first.aclose()
        await second.aclose()
