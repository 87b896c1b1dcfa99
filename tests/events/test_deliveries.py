"""When each source last delivered: kept across processes, written at most once per interval."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI

from app.clients.attio import AttioClient
from app.clients.redis import connect as connect_redis
from app.config import Settings
from app.events.deliveries import DeliveryClock, watched_sources
from app.events.model import Source
from app.schema import SchemaBootstrap
from attio_sandbox import SandboxState
from tests.conftest import sandbox_attio_client

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@pytest.fixture
async def attio(sandbox_app: FastAPI) -> AsyncIterator[AttioClient]:
    async with sandbox_attio_client(sandbox_app) as client:
        assert (await SchemaBootstrap(client, currency_code="USD").run(apply=True)).complete
        yield client


def test_only_sources_whose_silence_is_checked_are_recorded() -> None:
    def watched(**env: str) -> frozenset[Source]:
        return watched_sources(Settings(_env_file=None, **env))  # type: ignore[call-arg]

    braintree = {
        "BRAINTREE_MERCHANT_ID": "m",
        "BRAINTREE_PUBLIC_KEY": "p",
        "BRAINTREE_PRIVATE_KEY": "private-key-0123456789",
    }
    assert watched() == frozenset()
    assert watched(**braintree) == {Source.braintree}  # on by default, from its traffic
    assert watched(**braintree, WATCH_SILENCE_BRAINTREE="off") == frozenset()
    assert watched(WATCH_SILENCE_ZOHO="26h") == {Source.zoho}


async def test_delivery_times_are_shared_through_redis(attio: AttioClient, redis_url: str) -> None:
    first, second = connect_redis(redis_url), connect_redis(redis_url)  # two processes
    try:
        await DeliveryClock(attio, first).record(Source.braintree, NOW)
        assert (await DeliveryClock(attio, second).last())[Source.braintree] == NOW
    finally:
        await first.aclose()
        await second.aclose()


async def test_noting_deliveries_writes_attio_at_most_once_per_interval(
    attio: AttioClient, sandbox: SandboxState
) -> None:
    clock = DeliveryClock(attio, thresholds={Source.zoho: timedelta(minutes=4)})
    assert clock.interval(Source.zoho) == timedelta(minutes=2)
    assert clock.interval(Source.attio) == timedelta(minutes=10)
    sandbox.requests.clear()
    for _ in range(20):
        clock.note(Source.zoho)
    await clock.flush()
    assert sandbox.requests.count(kind="write", path_regex="/objects/bridge_events/") == 1
    assert (await clock.last())[Source.zoho] is not None
