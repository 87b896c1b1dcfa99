"""`attio-bridge serve | bootstrap | sandbox`: the web service, the schema, the local Attio."""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn

from app.cli import _common
from app.clients.zoho import check_zoho_settings
from app.errors import ConfigurationError
from app.schema import SchemaBootstrap
from app.serving import uvicorn_options


def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="Port (default: $PORT or 8000).")] = None,
    reload: Annotated[bool, typer.Option(help="Restart on code changes.")] = False,
    proxy_headers: Annotated[
        bool,
        typer.Option(help="Trust X-Forwarded-For/-Proto (only behind a proxy, e.g. Render's)."),
    ] = False,
) -> None:
    """Run the web service."""
    settings = _common.load_settings()
    try:
        settings.check_startup()
        check_zoho_settings(settings)
    except ConfigurationError as exc:
        typer.secho(f"error: {exc.message}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        reload=reload,
        **uvicorn_options(
            settings, host=host, port=port or settings.port, proxy_headers=proxy_headers
        ),
    )


def bootstrap(
    check: Annotated[
        bool, typer.Option("--check", help="Only report what is missing; write nothing.")
    ] = False,
) -> None:
    """Create every Attio object, attribute and option the bridge writes (idempotent)."""
    settings = _common.load_settings()

    async def go() -> bool:
        async with _common.attio_client_for_cli(settings) as client:
            schema = SchemaBootstrap.from_settings(client, settings)
            report = await schema.run(apply=not check)
        typer.echo(report.summary())
        return report.complete

    if not _common.run(go):
        raise typer.Exit(1)


def sandbox(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8100,
) -> None:
    """Run the Attio sandbox (an in-memory emulator of Attio's API) on its own port."""
    # Development only: the sandbox is not part of the production image.
    from attio_sandbox import serve as serve_sandbox

    _common.load_settings()
    serve_sandbox(host, port)
