"""End-to-end fixtures: the bridge in-process, talking to the Attio sandbox in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.bridge import Bridge, build_bridge
from app.cli import _common as cli_common
from app.clients.attio import AttioClient
from app.clients.braintree import BraintreeClient
from app.config import Settings, get_settings
from app.main import create_app
from app.schema import SchemaBootstrap
from attio_sandbox import SandboxState
from testkit.settings import ADMIN_TOKEN, make_settings
from testkit.signing import BRAINTREE_TEST_CREDENTIALS
from tests.conftest import SANDBOX_URL, make_sandbox, sandbox_attio_client

__all__ = ["ADMIN_TOKEN", "Harness", "bridge_settings", "start_harness"]


def bridge_settings(**env: str) -> Settings:
    """`testkit.settings.make_settings` on the in-process sandbox, with fast failure paths."""
    fast = {
        # Keep failure paths fast: the client retries, but without long sleeps.
        "ATTIO_MAX_ATTEMPTS": "2",
        # The sandbox enforces no limits here unless a test asks; the client need not either.
        "ATTIO_WRITE_RATE": "10000",
        "ATTIO_READ_RATE": "10000",
        "EVENT_PROCESSING_BUDGET_SECONDS": "5",
    }
    return make_settings(SANDBOX_URL, **{**fast, **env})


@dataclass
class Harness:
    app: FastAPI
    client: TestClient
    sandbox: SandboxState
    sandbox_app: FastAPI

    @property
    def bridge(self) -> Bridge:
        return self.app.state.bridge

    def attio_client(self) -> AttioClient:
        """A separate client on the same sandbox, for test setup and inspection."""
        return sandbox_attio_client(self.sandbox_app)

    def records(self, obj: str) -> list[dict]:
        """Every record of an object, values flattened to plain JSON (sandbox dev route)."""
        with TestClient(self.sandbox_app) as sandbox:
            return sandbox.get(f"/_sandbox/objects/{obj}/records").json()["data"]

    def writes_to(self, obj: str) -> int:
        return self.sandbox.requests.count(kind="write", path_regex=f"/objects/{obj}/")


async def bootstrap(sandbox_app: FastAPI, settings: Settings | None = None) -> None:
    async with sandbox_attio_client(sandbox_app) as client:
        bootstrap = SchemaBootstrap(client, currency_code="USD")
        if settings is not None:  # the layout the settings name
            bootstrap = SchemaBootstrap.from_settings(client, settings)
        report = await bootstrap.run(apply=True)
        assert report.complete, report.summary()


@asynccontextmanager
async def bridge_on_sandbox(
    braintree: BraintreeClient, payments_object: str = "true"
) -> AsyncIterator[tuple[FastAPI, AttioClient, Bridge]]:
    """A bootstrapped sandbox (its request log cleared), a client on it, and the bridge built
    from the settings of that layout, talking to `braintree`."""
    settings = bridge_settings(ATTIO_PAYMENTS_OBJECT=payments_object)
    sandbox_app = make_sandbox()
    await bootstrap(sandbox_app, settings)
    sandbox_app.state.sandbox.requests.clear()
    attio = sandbox_attio_client(sandbox_app)
    async with attio, build_bridge(settings, attio, braintree=braintree) as bridge:
        yield sandbox_app, attio, bridge


def start_harness(
    env: dict[str, str] | None = None,
    *,
    max_objects: int | None = None,
    **bridge_overrides: object,
) -> Iterator[Harness]:
    """The bridge app on a sandbox freshly bootstrapped with the layout `env` names.

    `env` overrides settings; `max_objects` is the sandbox workspace's plan limit;
    `bridge_overrides` go to build_bridge (e.g. a fake Braintree).
    """
    import asyncio

    settings = bridge_settings(**(env or {}))
    sandbox_app = make_sandbox(max_objects=max_objects)
    asyncio.run(bootstrap(sandbox_app, settings))
    sandbox_app.state.sandbox.requests.clear()  # count only what the test itself causes
    app = create_app(
        settings,
        attio_transport=httpx.ASGITransport(app=sandbox_app),
        **bridge_overrides,
    )
    with TestClient(app) as client:
        yield Harness(app, client, sandbox_app.state.sandbox, sandbox_app)


@pytest.fixture
def harness() -> Iterator[Harness]:
    yield from start_harness()


def commands_against(
    monkeypatch: pytest.MonkeyPatch,
    sandbox_app: FastAPI,
    braintree: BraintreeClient,
    **env: str,
) -> None:
    """CLI commands run in this test reach the sandbox and the Braintree stand-in's client,
    with the stand-in's credentials (and `env` on top) in their settings."""
    creds = BRAINTREE_TEST_CREDENTIALS
    settings = {
        "ATTIO_API_KEY": "sandbox-key-0123456789",
        "LOG_LEVEL": "WARNING",
        "BRAINTREE_ENVIRONMENT": creds["environment"],
        "BRAINTREE_MERCHANT_ID": creds["merchant_id"],
        "BRAINTREE_PUBLIC_KEY": creds["public_key"],
        "BRAINTREE_PRIVATE_KEY": creds["private_key"],
        **env,
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    monkeypatch.setattr(
        cli_common, "attio_client_for_cli", lambda _s: sandbox_attio_client(sandbox_app)
    )
    monkeypatch.setattr(BraintreeClient, "from_settings", classmethod(lambda _cls, _s: braintree))
