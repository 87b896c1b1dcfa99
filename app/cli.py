"""The `attio-bridge` command line (also `python -m app`)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar

import typer

from app.bridge import Bridge, build_bridge
from app.cli_zoho import sync_cli, zoho_cli
from app.clients.attio import AttioClient
from app.config import Settings, get_settings
from app.errors import BridgeError, ConfigurationError
from app.events.ledger import LedgerStatus
from app.events.model import Source
from app.events.replay import ReplayReport, ReplayStatus
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


cli.add_typer(sync_cli, name="sync")
cli.add_typer(zoho_cli, name="zoho")
events_cli = typer.Typer(help="The event ledger: list, replay and retry failed events.")
cli.add_typer(events_cli, name="events")


@asynccontextmanager
async def cli_bridge(settings: Settings) -> AsyncIterator[Bridge]:
    async with attio_client_for_cli(settings) as client:
        yield build_bridge(settings, client)


def _print_report(report: ReplayReport, *, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
        return
    for result in report.results:
        typer.echo(f"{result.status.value:<13} {result.event_key}  {result.detail or ''}".rstrip())
    counts = ", ".join(f"{k}={v}" for k, v in report.counts().items() if v)
    typer.echo(f"{len(report.results)} event(s): {counts or 'nothing to do'}")


StatusOption = Annotated[LedgerStatus | None, typer.Option(help="Only records with this status.")]
SourceOption = Annotated[Source | None, typer.Option(help="Only events from this provider.")]
TypeOption = Annotated[str | None, typer.Option(help="Only this event type.")]
LimitOption = Annotated[int, typer.Option(min=1, max=1000, help="At most this many records.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@events_cli.command("list")
def events_list(
    status: StatusOption = None,
    source: SourceOption = None,
    event_type: TypeOption = None,
    limit: LimitOption = 100,
    as_json: JsonOption = False,
) -> None:
    """List ledger records, newest attempt first."""
    settings = _settings()

    async def go() -> list[dict[str, Any]]:
        async with cli_bridge(settings) as bridge:
            entries = await bridge.ledger.list(
                status=status, source=source, event_type=event_type, limit=limit
            )
        return [entry.summary() for entry in entries]

    rows = _run(go)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        typer.echo(
            f"{row['status']:<15} {row['attempts']:>2}x  {row['last_attempt_at'] or '-':<27} "
            f"{row['event_key']}  {row['error'] or ''}".rstrip()
        )
    typer.echo(f"{len(rows)} record(s)")


@events_cli.command("replay")
def events_replay(
    event_key: Annotated[str | None, typer.Argument(help="Replay this one event.")] = None,
    status: StatusOption = None,
    source: SourceOption = None,
    event_type: TypeOption = None,
    limit: LimitOption = 100,
    dry_run: Annotated[bool, typer.Option(help="Only say what would be replayed.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Replay one event by key, or every record matching the filters (e.g. --status failed)."""
    if event_key is None and status is None and source is None and event_type is None:
        typer.secho("error: give an EVENT_KEY or at least one filter", fg="red", err=True)
        raise typer.Exit(2)
    settings = _settings()

    async def go() -> ReplayReport:
        async with cli_bridge(settings) as bridge:
            if event_key is not None:
                result = await bridge.replayer.replay_key(event_key, dry_run=dry_run)
                return ReplayReport([result])
            entries = await bridge.ledger.list(
                status=status, source=source, event_type=event_type, limit=limit
            )
            return await bridge.replayer.replay_many(entries, dry_run=dry_run)

    report = _run(go)
    _print_report(report, as_json=as_json)
    unsuccessful = {ReplayStatus.failed, ReplayStatus.dead, ReplayStatus.refused}
    if any(result.status in unsuccessful for result in report.results):
        raise typer.Exit(1)


@events_cli.command("retry-due")
def events_retry_due(limit: LimitOption = 500, as_json: JsonOption = False) -> None:
    """Re-attempt failed events whose next attempt time has passed (run by cron)."""
    settings = _settings()

    async def go() -> ReplayReport:
        async with cli_bridge(settings) as bridge:
            return await bridge.replayer.retry_due(limit=limit)

    # Events failing again is normal here (they are rescheduled): exit 0 unless the run broke.
    _print_report(_run(go), as_json=as_json)


webhooks_cli = typer.Typer(help="The Attio webhook that sends record events to the bridge.")
cli.add_typer(webhooks_cli, name="webhooks")


@webhooks_cli.command("register")
def webhooks_register(
    url: Annotated[
        str, typer.Argument(help="The bridge's public URL, e.g. https://x.onrender.com")
    ],
) -> None:
    """Create (or update) the Attio webhook for this bridge and print its secret."""
    from app.services.attio.webhooks import register_webhook

    target = url.rstrip("/")
    if not target.endswith("/webhooks/attio"):
        target += "/webhooks/attio"
    if not target.startswith("https://") and "://127.0.0.1" not in target:
        typer.secho("warning: Attio only delivers to https:// URLs", fg="yellow", err=True)
    settings = _settings()

    async def go():
        async with attio_client_for_cli(settings) as client:
            return await register_webhook(
                client, target_url=target, own_actor_ids=settings.attio_own_actor_ids
            )

    registration = _run(go)
    verb = "created" if registration.created else "updated"
    typer.echo(
        f"{verb} webhook {registration.webhook_id} -> {target} "
        f"({registration.subscriptions} subscriptions)"
    )
    if registration.secret:
        typer.echo("Set this on the bridge (Attio shows it only once):")
        typer.echo(f"ATTIO_WEBHOOK_SECRET={registration.secret}")
    else:
        typer.echo("The secret is unchanged: keep the ATTIO_WEBHOOK_SECRET you have.")
    if not settings.attio_own_actor_ids:
        typer.secho(
            "note: ATTIO_OWN_ACTOR_IDS is unset, so the filter excludes every API token's "
            "events; set it and run this again to exclude only the bridge's own.",
            fg="yellow",
            err=True,
        )


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
        access_log=False,  # every webhook already logs its outcome with the request id
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
    from attio_sandbox import serve as serve_sandbox

    _settings()
    serve_sandbox(host, port)


def main() -> None:
    cli()
