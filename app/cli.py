"""The `attio-bridge` command line (also `python -m app`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer

from app.clients.attio import AttioClient
from app.config import Settings, get_settings
from app.errors import BridgeError, ConfigurationError
from app.log import configure_logging
from app.schema import SchemaBootstrap

T = TypeVar("T")

cli = typer.Typer(
    name="attio-bridge",
    help="Keeps Attio in step with Zoho and Braintree.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,  # a traceback could show settings; errors print one line
)


def _settings() -> Settings:
    settings = get_settings()
    configure_logging(
        settings.log_level, json=settings.is_production, secrets=settings.secret_values()
    )
    return settings


def _run(make: Callable[[], Awaitable[T]]) -> T:
    try:
        return asyncio.run(make())  # type: ignore[arg-type]
    except BridgeError as exc:
        typer.secho(f"error: {exc.message}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None


def attio_client_for_cli(settings: Settings) -> AttioClient:
    """Commands act on a real (or standalone sandbox) Attio, never on a throwaway in-memory one."""
    if settings.uses_attio_sandbox:
        raise ConfigurationError(
            "ATTIO_API_KEY is not set. Commands need a real workspace, or a standalone sandbox: "
            "run `attio-bridge sandbox` and set ATTIO_BASE_URL=http://127.0.0.1:8100 "
            "ATTIO_API_KEY=dev."
        )
    assert settings.attio_api_key is not None
    return AttioClient.from_settings(settings, api_key=settings.attio_api_key.get_secret_value())


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="Port (default: $PORT or 8000).")] = None,
    reload: Annotated[bool, typer.Option(help="Restart on code changes.")] = False,
) -> None:
    """Run the web service."""
    import uvicorn

    settings = _settings()
    try:
        settings.check_startup()
    except ConfigurationError as exc:
        typer.secho(f"error: {exc.message}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port or settings.port,
        reload=reload,
        log_config=None,  # our structlog setup handles uvicorn's loggers
        timeout_graceful_shutdown=20,
    )


@cli.command()
def bootstrap(
    check: Annotated[
        bool, typer.Option("--check", help="Only report what is missing; write nothing.")
    ] = False,
) -> None:
    """Create every Attio object, attribute and option the bridge writes (idempotent)."""
    settings = _settings()

    async def go() -> bool:
        async with attio_client_for_cli(settings) as client:
            schema = SchemaBootstrap(client, currency_code=settings.attio_default_currency)
            report = await schema.run(apply=not check)
        typer.echo(report.summary())
        return report.complete

    if not _run(go):
        raise typer.Exit(1)


@cli.command()
def sandbox(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8100,
) -> None:
    """Run the Attio sandbox (an in-memory emulator of Attio's API) on its own port."""
    from app.sandbox import serve as serve_sandbox

    _settings()
    serve_sandbox(host, port)


def main() -> None:
    cli()
