"""Zoho commands: `attio-bridge sync zoho` and `attio-bridge zoho watch|channels`.

Mounted on the main CLI (`app.cli`); the shared helpers are imported from there when a command
runs, so `app.cli` can import this module at the top without a cycle.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated, Any

import typer

from app.clients.zoho import ItemsSource, WatchChannel, WatchResult, ZohoClient
from app.clients.zoho.watch import DEFAULT_EVENTS
from app.config import Settings, secret_is_set
from app.errors import ConfigurationError
from app.services.zoho.sync.progress import progress_observer
from app.services.zoho.sync.report import SyncReport
from app.services.zoho.sync.engine import DEFAULT_CONCURRENCY, ZohoServicesSync

sync_cli = typer.Typer(
    help="Backfill and reconcile Attio from a source system.", no_args_is_help=True
)
zoho_cli = typer.Typer(help="Zoho CRM notification channel.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def zoho_client_for_cli(settings: Settings) -> ZohoClient:
    return ZohoClient.from_settings(settings)


# -- attio-bridge sync zoho ------------------------------------------------------------------


def _print_sync_report(report: SyncReport, *, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
        return
    for entry in report.plan:
        changed = ",".join(entry.changed)
        typer.echo(
            f"{entry.kind.value:<10} {entry.zoho_item_id:<20} {entry.name or ''}  [{changed}]"
        )
    for failure in report.failures:
        typer.echo(f"failed     {failure.zoho_item_id:<20} {failure.error}", err=True)
    if report.counts.failed > len(report.failures):
        typer.echo(f"... {report.counts.failed - len(report.failures)} more failures", err=True)
    typer.echo(report.summary_line())


@sync_cli.command("zoho")
def sync_zoho(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan; write nothing.")
    ] = False,
    concurrency: Annotated[
        int, typer.Option(min=1, max=64, help="Concurrent Attio writes (the limiter still rules).")
    ] = DEFAULT_CONCURRENCY,
    as_json: JsonOption = False,
) -> None:
    """Make Attio's `services` match Zoho's items: create, update, deactivate what differs.

    Exits 1 when an item failed (it is recorded in the event ledger) or the run was aborted.
    """
    from app import cli as main_cli

    settings = main_cli._settings()

    async def go() -> SyncReport:
        async with main_cli.cli_bridge(settings) as bridge, zoho_client_for_cli(settings) as zoho:
            sync = ZohoServicesSync(
                bridge.attio,
                zoho,
                bridge.ledger,
                source=ItemsSource(settings.zoho_items_source),
                concurrency=concurrency,
            )
            with progress_observer() as observer:
                return await sync.run(dry_run=dry_run, observer=observer)

    report = main_cli._run(go)
    _print_sync_report(report, as_json=as_json)
    if not report.ok:
        raise typer.Exit(1)


# -- attio-bridge zoho watch / channels ------------------------------------------------------


def _channel_settings(
    settings: Settings, channel_id: str | None, notify_url: str | None
) -> tuple[str, str, str]:
    """(channel id, notify URL, token): the intake accepts only what the settings list."""
    token = settings.zoho_crm_notify_token
    if not secret_is_set(token):
        raise ConfigurationError("ZOHO_CRM_NOTIFY_TOKEN is not set (a random string, <= 50 chars)")
    assert token is not None
    known = settings.zoho_crm_channel_ids
    channel = channel_id or (known[0] if known else None)
    if not channel or channel not in known:
        raise ConfigurationError(
            "The channel id must be listed in ZOHO_CRM_CHANNEL_IDS, or callbacks are refused"
        )
    url = notify_url or settings.zoho_crm_notify_url
    if not url:
        raise ConfigurationError(
            "Give --notify-url or set ZOHO_CRM_NOTIFY_URL (https://<bridge>/webhooks/zoho/crm)"
        )
    return channel, url, token.get_secret_value()


@zoho_cli.command("watch")
def zoho_watch(
    channel_id: Annotated[
        str | None, typer.Option(help="Default: the first of ZOHO_CRM_CHANNEL_IDS.")
    ] = None,
    notify_url: Annotated[str | None, typer.Option(help="Default: ZOHO_CRM_NOTIFY_URL.")] = None,
    days: Annotated[
        float, typer.Option(min=0.05, max=6.9, help="Channel lifetime (Zoho allows < 7 days).")
    ] = 6.0,
    event: Annotated[list[str] | None, typer.Option(help="Events to watch (repeatable).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Create the CRM notification channel, or renew it before it expires (run daily)."""
    from app import cli as main_cli

    settings = main_cli._settings()

    async def go() -> tuple[WatchChannel, WatchResult]:
        channel_, url, token = _channel_settings(settings, channel_id, notify_url)
        channel = WatchChannel.expiring_in(
            timedelta(days=days),
            channel_id=channel_,
            notify_url=url,
            token=token,
            events=tuple(event or DEFAULT_EVENTS),
        )
        async with zoho_client_for_cli(settings) as zoho:
            return channel, await zoho.ensure_watch(channel)

    channel, result = main_cli._run(go)
    if as_json:
        typer.echo(json.dumps({"channel_id": channel.channel_id, **result.as_dict()}, indent=2))
        return
    action = "renewed" if result.renewed else "created"
    expiry = result.channel_expiry or channel.expires_at.isoformat()
    typer.echo(
        f"{action} channel {channel.channel_id} ({', '.join(channel.events)}), expires {expiry}"
    )


@zoho_cli.command("channels")
def zoho_channels(as_json: JsonOption = False) -> None:
    """List the CRM notification channels enabled for this Zoho user."""
    from app import cli as main_cli

    settings = main_cli._settings()

    async def go() -> list[dict[str, Any]]:
        async with zoho_client_for_cli(settings) as zoho:
            return await zoho.list_watch_channels()

    channels = [{k: v for k, v in c.items() if k != "token"} for c in main_cli._run(go)]
    if as_json:
        typer.echo(json.dumps(channels, indent=2))
        return
    for channel in channels:
        events = ",".join(channel.get("events") or [])
        typer.echo(
            f"{channel.get('channel_id')}  expires {channel.get('channel_expiry')}  "
            f"{events}  -> {channel.get('notify_url')}"
        )
    typer.echo(f"{len(channels)} channel(s)")
