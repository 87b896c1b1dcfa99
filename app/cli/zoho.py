"""`attio-bridge zoho watch | channels`: the Zoho CRM notification channel."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated, Any

import typer

from app.cli import _common
from app.cli._common import JsonOption
from app.clients.zoho import WatchChannel, WatchResult
from app.clients.zoho.watch import DEFAULT_EVENTS
from app.config import Settings, insecure_url, secret_is_set
from app.errors import ConfigurationError

zoho_cli = typer.Typer(help="Zoho CRM notification channel.", no_args_is_help=True)


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
    if insecure_url(url):
        raise ConfigurationError(
            f"The notify URL {url!r} must be https:// (Zoho sends the channel's token in every "
            "callback; plain http only to loopback or the private network)"
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
    settings = _common.load_settings()

    async def go() -> tuple[WatchChannel, WatchResult]:
        channel_, url, token = _channel_settings(settings, channel_id, notify_url)
        channel = WatchChannel.expiring_in(
            timedelta(days=days),
            channel_id=channel_,
            notify_url=url,
            token=token,
            events=tuple(event or DEFAULT_EVENTS),
        )
        async with _common.zoho_client_for_cli(settings) as zoho:
            return channel, await zoho.ensure_watch(channel)

    channel, result = _common.run(go)
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
    settings = _common.load_settings()

    async def go() -> list[dict[str, Any]]:
        async with _common.zoho_client_for_cli(settings) as zoho:
            return await zoho.list_watch_channels()

    channels = [{k: v for k, v in c.items() if k != "token"} for c in _common.run(go)]
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
