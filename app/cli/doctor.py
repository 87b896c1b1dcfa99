"""`attio-bridge doctor`: what would make the bridge fail, checked live, as one table."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from app.cli import _common
from app.cli._common import JsonOption
from app.config import Settings
from app.errors import BridgeError
from app.services.doctor import Report, Status
from app.services.watch.registry import DoctorContext, run_config_checks

STYLES = {Status.ok: "green", Status.warn: "yellow", Status.fail: "red", Status.skipped: "dim"}


async def diagnose(settings: Settings) -> Report:
    try:
        attio = _common.attio_client_for_cli(settings)
    except BridgeError as exc:
        ctx = DoctorContext(settings, None, exc.message, _common.zoho_client_for_cli)
        report = await run_config_checks(ctx)
    else:
        async with attio:
            ctx = DoctorContext(settings, attio, "", _common.zoho_client_for_cli)
            report = await run_config_checks(ctx)
    # Providers' messages are shown as they are; no configured secret is, whatever they hold.
    return report.redacted(settings.secret_values())


def doctor(as_json: JsonOption = False) -> None:
    """Check, live, every configured system the bridge needs; exit 1 if anything fails."""
    settings = _common.load_settings()
    report = _common.run(lambda: diagnose(settings))
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
    else:
        table = Table("check", "result", "detail", "what to do")
        for check in report:
            # Text, not markup: a provider's message may hold brackets.
            table.add_row(
                Text(check.name),
                Text(check.status.value, style=STYLES[check.status]),
                Text(check.detail),
                Text(check.action),
            )
        Console().print(table)
    if report.failed:
        raise typer.Exit(1)
