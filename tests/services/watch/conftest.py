"""A bootstrapped sandbox workspace and the pieces a watch pass reads."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI

from app.clients.attio import AttioClient
from app.clients.zoho import ZohoClient
from app.config import Settings
from app.events.deliveries import DeliveryClock
from app.schema import SchemaBootstrap
from app.services.syncstate import SyncStateStore
from app.services.watch.runtime import WatchContext
from testkit.signing import ATTIO_TEST_SECRET
from tests.conftest import sandbox_attio_client

PUBLIC_URL = "https://bridge.example.com"
TARGET = f"{PUBLIC_URL}/webhooks/attio"


def settings(**env: str) -> Settings:
    base = {"ATTIO_WEBHOOK_SECRET": ATTIO_TEST_SECRET, "PUBLIC_URL": PUBLIC_URL}
    return Settings(_env_file=None, **{**base, **env})  # type: ignore[call-arg]


@pytest.fixture
async def attio(sandbox_app: FastAPI) -> AsyncIterator[AttioClient]:
    async with sandbox_attio_client(sandbox_app) as client:
        report = await SchemaBootstrap(client, currency_code="USD").run(apply=True)
        assert report.complete
        yield client


def context(
    attio: AttioClient,
    config: Settings,
    *,
    now: datetime | None = None,
    deliveries: DeliveryClock | None = None,
    **parts: Any,
) -> WatchContext:
    return WatchContext(
        settings=config,
        attio=attio,
        deliveries=deliveries or DeliveryClock(attio),
        sync_state=SyncStateStore(attio),
        queue=parts.get("queue"),
        braintree=parts.get("braintree"),
        make_zoho=parts.get("make_zoho", ZohoClient.from_settings),
        now=now or datetime.now(UTC),
    )
