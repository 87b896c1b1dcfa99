"""The end-to-end harness, plus one whose bridge also accepts Zoho CRM notifications."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import typer
from click.testing import Result
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import app.cli._common as cli_common
import app.cli.sync as cli_sync
from app.clients.attio import AttioClient
from app.config import get_settings
from app.main import create_app
from app.services.zoho.service import ZohoService
from testkit.fake_zoho import FakeZoho
from tests.conftest import make_sandbox, sandbox_attio_client
from tests.e2e.conftest import Harness, bootstrap, bridge_settings, harness

__all__ = [
    "CRM_CHANNEL_ID",
    "CRM_TOKEN",
    "crm_harness",
    "fail_writes_of",
    "fake_zoho",
    "harness",
    "sync_zoho_command",
    "zoho_of",
]

CRM_TOKEN = "crm-channel-token-0123456789"
CRM_CHANNEL_ID = "1000000068001"


def zoho_of(h: Harness) -> ZohoService:
    services = h.bridge.zoho_service
    assert services is not None
    return services


def fail_writes_of(attio: AttioClient, zoho_item_id: str, error: Exception) -> None:
    """Make `attio` raise `error` for every write of the service `zoho_item_id`."""
    assert_record = attio.assert_record

    async def failing(obj: str, **kwargs: Any) -> dict[str, Any]:
        if kwargs["values"].get("zoho_item_id") == zoho_item_id:
            raise error
        return await assert_record(obj, **kwargs)

    attio.assert_record = failing  # type: ignore[method-assign]


def sync_zoho_command(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, zoho: FakeZoho, **env: str
) -> Callable[..., Result]:
    """`attio-bridge sync zoho` on the harness's sandbox and `zoho`, with `env` set; the caller
    clears the settings cache afterwards."""
    monkeypatch.setenv("ATTIO_API_KEY", "sandbox-key-0123456789")
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    monkeypatch.setattr(
        cli_common, "attio_client_for_cli", lambda _s: sandbox_attio_client(harness.sandbox_app)
    )
    monkeypatch.setattr(cli_common, "zoho_client_for_cli", lambda _s: zoho.client())
    root = typer.Typer()
    root.add_typer(cli_sync.sync_cli, name="sync")

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(root, ["sync", "zoho", *args])

    return invoke


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
