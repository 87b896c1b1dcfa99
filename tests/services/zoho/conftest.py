"""The end-to-end harness, plus one whose bridge also accepts Zoho CRM notifications."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.services.zoho.service import ZohoService
from testkit.fake_zoho import FakeZoho
from tests.conftest import make_sandbox
from tests.e2e.conftest import Harness, bootstrap, bridge_settings, harness

__all__ = ["CRM_CHANNEL_ID", "CRM_TOKEN", "crm_harness", "fake_zoho", "harness", "zoho_of"]

CRM_TOKEN = "crm-channel-token-0123456789"
CRM_CHANNEL_ID = "1000000068001"


def zoho_of(h: Harness) -> ZohoService:
    services = h.bridge.zoho
    assert services is not None
    return services


@pytest.fixture
def fake_zoho() -> FakeZoho:
    return FakeZoho.with_items(3)


@pytest.fixture
def crm_harness() -> Iterator[Harness]:
    sandbox_app = make_sandbox()
    asyncio.run(bootstrap(sandbox_app))
    sandbox_app.state.sandbox.requests.clear()
    settings = bridge_settings(ZOHO_CRM_NOTIFY_TOKEN=CRM_TOKEN, ZOHO_CRM_CHANNEL_IDS=CRM_CHANNEL_ID)
    app = create_app(settings, attio_transport=httpx.ASGITransport(app=sandbox_app))
    with TestClient(app) as client:
        yield Harness(app, client, sandbox_app.state.sandbox, sandbox_app)
