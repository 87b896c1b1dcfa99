"""What every command shares: settings and logging, the event loop, the clients it acts with."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, TypeVar

import typer

from app.bridge import Bridge, build_bridge
from app.clients.attio import AttioClient
from app.clients.zoho import ZohoClient
from app.config import Settings, get_settings
from app.errors import BridgeError, ConfigurationError
from app.log import configure_logging
from app.schema.currencies import check_default_currency

T = TypeVar("T")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def load_settings() -> Settings:
    """The settings, checked (a bad value prints one line and exits 1), with logging set up."""
    settings = get_settings()
    configure_logging(
        settings.log_level,
        json=settings.is_production,
        secrets=settings.secret_values(),
        access_log=settings.access_log,
    )
    try:
        settings.check_values()
        check_default_currency(settings)
    except ConfigurationError as exc:
        typer.secho(f"error: {exc.message}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    return settings


def run_sync(call: Callable[[], T]) -> T:
    """Run a blocking call; a `BridgeError` prints one line (no traceback) and exits 1."""
    try:
        return call()
    except BridgeError as exc:
        typer.secho(f"error: {exc.message}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None


def run(make: Callable[[], Awaitable[T]]) -> T:
    """Run a command's coroutine; a `BridgeError` prints one line (no traceback) and exits 1."""

    async def main() -> T:
        return await make()

    try:
        return asyncio.run(main())
    except BridgeError as exc:
        typer.secho(f"error: {exc.message}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None


def attio_client_for_cli(settings: Settings) -> AttioClient:
    """Commands act on a real (or standalone sandbox) Attio, never on a throwaway in-memory one."""
    if settings.uses_attio_sandbox or settings.attio_api_key is None:
        raise ConfigurationError(
            "ATTIO_API_KEY is not set. Commands need a real workspace, or a standalone sandbox: "
            "run `attio-bridge sandbox` and set ATTIO_BASE_URL=http://127.0.0.1:8100 "
            "ATTIO_API_KEY=dev."
        )
    return AttioClient.from_settings(settings, api_key=settings.attio_api_key.get_secret_value())


def zoho_client_for_cli(settings: Settings) -> ZohoClient:
    return ZohoClient.from_settings(settings)


@asynccontextmanager
async def cli_bridge(settings: Settings) -> AsyncIterator[Bridge]:
    """The bridge a command acts through; it and its Attio client are closed afterwards."""
    async with attio_client_for_cli(settings) as client, build_bridge(settings, client) as bridge:
        yield bridge
