"""Readiness under a flood: one check at a time, answers reused, and a bounded wait."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from app.clients.attio import AttioClient
from app.main import create_app
from app.schema import SchemaBootstrap
from app.schema.readiness import ReadinessProbe
from attio_sandbox import SandboxState
from testkit.settings import make_settings
from tests.conftest import SANDBOX_URL, make_sandbox


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def probe(client: AttioClient, clock: Clock, **options: float) -> ReadinessProbe:
    bootstrap = SchemaBootstrap(client, currency_code="USD")
    return ReadinessProbe(client, bootstrap, clock=clock, **options)


async def one_check_reads(client: AttioClient, sandbox: SandboxState) -> int:
    sandbox.requests.clear()
    await probe(client, Clock()).check()
    return sandbox.requests.count(kind="read")


async def test_concurrent_checks_share_one_and_bad_answers_are_reused(
    sandbox_client: tuple[AttioClient, SandboxState],
) -> None:
    client, sandbox = sandbox_client  # no bootstrap: the schema is incomplete
    per_check = await one_check_reads(client, sandbox)
    assert per_check > 1  # the schema walk reads every object
    clock = Clock()
    readiness = probe(client, clock)
    sandbox.requests.clear()
    answers = await asyncio.gather(*(readiness.check() for _ in range(50)))
    assert {a.ready for a in answers} == {False}
    assert sandbox.requests.count(kind="read") == per_check
    clock.now += 1  # within the bad answer's lifetime: reused
    assert not (await readiness.check()).ready
    assert sandbox.requests.count(kind="read") == per_check


async def test_an_incomplete_schema_is_walked_again_only_now_and_then(
    sandbox_client: tuple[AttioClient, SandboxState],
) -> None:
    client, sandbox = sandbox_client
    clock = Clock()
    readiness = probe(client, clock)
    await readiness.check()
    sandbox.requests.clear()
    for _ in range(10):  # 10 more checks, each after the bad answer expired
        clock.now += 6
        assert not (await readiness.check()).ready
    # One /v2/self per check, and the schema walk at most once in that minute.
    assert sandbox.requests.count(kind="read") <= 10 + await one_check_reads(client, sandbox)


async def test_a_check_attio_does_not_answer_is_cut_short(
    sandbox_client: tuple[AttioClient, SandboxState],
) -> None:
    client, sandbox = sandbox_client
    sandbox.faults.latency_ms = 3_600_000  # an hour: only the probe's own bound ends the wait
    readiness = probe(client, Clock(), timeout=0.05)
    answers = await asyncio.gather(*(readiness.check() for _ in range(20)))
    assert {a.ready for a in answers} == {False}
    assert answers[0].reason is not None and "did not answer within" in answers[0].reason


async def test_a_caller_that_goes_away_does_not_cancel_the_shared_check(
    sandbox_client: tuple[AttioClient, SandboxState],
) -> None:
    client, _ = sandbox_client
    readiness = probe(client, Clock())
    first = asyncio.ensure_future(readiness.check())
    await asyncio.sleep(0)
    second = asyncio.ensure_future(readiness.check())
    await asyncio.sleep(0)
    first.cancel()
    assert not (await second).ready
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_a_readyz_flood_costs_one_check() -> None:
    sandbox_app = make_sandbox()
    sandbox: SandboxState = sandbox_app.state.sandbox
    app = create_app(
        make_settings(SANDBOX_URL), attio_transport=httpx.ASGITransport(app=sandbox_app)
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bridge") as bridge:
        first = await bridge.get("/readyz")
        assert first.status_code == 503
        per_check = sandbox.requests.count(kind="read")
        sandbox.requests.clear()
        app.state.readiness = ReadinessProbe(app.state.attio, app.state.schema)
        answers = await asyncio.gather(*(bridge.get("/readyz") for _ in range(50)))
    assert {a.status_code for a in answers} == {503}
    assert sandbox.requests.count(kind="read") <= per_check
    await app.state.attio.aclose()
