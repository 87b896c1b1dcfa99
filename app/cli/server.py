"""`attio-bridge serve | bootstrap | sandbox`: the web service, the schema, the local Attio."""

from __future__ import annotations

import os
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from app.cli import _common
from app.cli.devsetup import DEFAULT_SECRETS_FILE, development_setup
from app.clients.zoho import check_zoho_settings
from app.config import get_settings
from app.errors import ConfigurationError
from app.schema import SchemaBootstrap
from app.serving import uvicorn_options


def _local_url(host: str, port: int) -> str:
    """Where a client on this machine reaches a server bound to `host`."""
    if host in ("", "0.0.0.0", "::"):  # noqa: S104 - a bind address read, not bound here
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="Port (default: $PORT or 8000).")] = None,
    reload: Annotated[bool, typer.Option(help="Restart on code changes.")] = False,
    proxy_headers: Annotated[
        bool,
        typer.Option(help="Trust X-Forwarded-For/-Proto (only behind a proxy, e.g. Render's)."),
    ] = False,
    dev_secrets: Annotated[
        bool,
        typer.Option(
            "--dev-secrets",
            help="Development only: turn on every webhook route with secrets generated for this "
            "run (printed, and written to --secrets-file), and without Braintree credentials "
            "serve the Braintree stand-in. What ./scripts/dev runs.",
        ),
    ] = False,
    secrets_file: Annotated[
        Path,
        typer.Option(
            envvar="BRIDGE_DEV_SECRETS_FILE", help="Where --dev-secrets writes the secrets."
        ),
    ] = DEFAULT_SECRETS_FILE,
) -> None:
    """Run the web service."""
    settings = _common.load_settings()
    port = port or settings.port
    with ExitStack() as stack:
        try:
            if dev_secrets:
                url = _local_url(host, port)
                setup = stack.enter_context(
                    development_setup(settings, url=url, secrets_file=secrets_file)
                )
                # The app (built by uvicorn, in this process or a reloader's child) reads its
                # settings from the environment.
                os.environ.update(setup.environ)
                get_settings.cache_clear()
                settings = _common.load_settings()
                typer.echo(setup.banner())
            settings.check_startup()
            check_zoho_settings(settings)
        except ConfigurationError as exc:
            typer.secho(f"error: {exc.message}", fg=typer.colors.RED, err=True)
            raise typer.Exit(1) from None
        uvicorn.run(
            "app.main:create_app",
            factory=True,
            reload=reload,
            **uvicorn_options(settings, host=host, port=port, proxy_headers=proxy_headers),
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
