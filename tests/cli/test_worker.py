"""`attio-bridge worker` refuses to run without queue mode; `events replay` queues in it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

import app.cli._common as cli_common
from app.cli import cli
from app.clients.redis import connect as connect_redis
from app.config import get_settings
from app.events.model import Source
from app.events.queue import STREAM
from testkit.signing import ATTIO_TEST_SECRET
from tests.conftest import sandbox_attio_client
from tests.e2e.conftest import Harness, start_harness
from tests.e2e.test_ledger import UPDATED, FlakyHandler, attio_delivery, ledger, post_attio


def test_worker_without_redis_url_says_there_is_nothing_to_do(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["worker"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "REDIS_URL is not set" in result.output


@pytest.fixture
def queued_harness(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    """A bridge in queue mode, and the CLI's settings on the same sandbox and Redis."""
    for harness in start_harness({"REDIS_URL": redis_url}):
        monkeypatch.setenv("ATTIO_API_KEY", "sandbox-key-0123456789")
        monkeypatch.setenv("ATTIO_WEBHOOK_SECRET", ATTIO_TEST_SECRET)
        monkeypatch.setenv("REDIS_URL", redis_url)
        monkeypatch.setenv("LOG_LEVEL", "WARNING")
        get_settings.cache_clear()
        monkeypatch.setattr(
            cli_common,
            "attio_client_for_cli",
            lambda _settings, h=harness: sandbox_attio_client(h.sandbox_app),
        )
        yield harness
        get_settings.cache_clear()


def stream_keys(redis_url: str) -> list[bytes]:
    async def read() -> list[bytes]:
        redis = connect_redis(redis_url)
        try:
            return [fields.get(b"event_key", b"") for _, fields in await redis.xrange(STREAM)]
        finally:
            await redis.aclose()

    return asyncio.run(read())


def test_events_replay_queues_in_queue_mode(queued_harness: Harness, redis_url: str) -> None:
    h = queued_harness
    # Recorded inline while Redis takes nothing: a failed record to replay.
    assert h.bridge.queue is not None
    h.bridge.dispatcher.register(Source.attio, "record.updated", FlakyHandler(failures=9))
    h.bridge.queue.retry_interval_seconds = 3600
    h.bridge.queue.outage_hold_seconds = 0
    h.bridge.queue._went_down(ConnectionError("test"))  # the intake believes Redis is down
    assert post_attio(h, attio_delivery("record.updated"), key="d1").json()["recorded"] == 1
    assert ledger(h)[UPDATED]["status"] == "failed"

    result = CliRunner().invoke(cli, ["events", "replay", UPDATED])
    assert result.exit_code == 0, result.output
    assert "queued" in result.stdout
    assert stream_keys(redis_url) == [UPDATED.encode()]
    assert ledger(h)[UPDATED]["status"] == "failed"  # a worker settles it
