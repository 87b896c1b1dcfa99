"""`attio-bridge watch`: one pass of every runtime check, its alerts, and a table."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from app.cli import _common
from app.cli._common import JsonOption
from app.config import Settings

STYLES = {"ok": "green", "warning": "yellow", "critical": "red", "skipped": "dim"}


async def watch_pass(settings: Settings) -> dict[str, Any]:
    async with _common.cli_bridge(settings) as bridge:
        assert bridge.watch is not None  # build_bridge always builds it
        report = (await bridge.watch.run_pass()).as_dict()
        # A catch-up the pass started (the Attio webhook is back) ends before the process does.
        await bridge.attio_service.sync_runner.wait()
        return report


def print_table(report: dict[str, Any]) -> None:
    table = Table("check", "state", "since", "what to do")
    for row in report["checks"]:
        # Text, not markup: a provider's message may hold brackets.
        message = Text(row["message"], style="dim") if row["message"] else Text("")
        table.add_row(
            Text(row["check"]),
            Text(row["state"], style=STYLES.get(row["state"], "")),
            Text(row["since"] or ""),
            Text.assemble(message, "\n" if row["action"] else "", Text(row["action"])),
        )
    console = Console()
    console.print(table)
    for sent in report["alerts"].get("sent", []):
        console.print(Text(f"alert: {sent['check']} {sent['state']} ({sent['severity']})"))
    for name, state in report["channels"].items():
        if state != "ok":
            console.print(Text(f"alert channel {name}: {state}", style="red"))
    if report["alerts"].get("error"):
        console.print(Text(report["alerts"]["error"], style="red"))


def watch(as_json: JsonOption = False) -> None:
    """Run every runtime check once and send the alerts due; exit 1 while any is critical."""
    settings = _common.load_settings()
    report = _common.run(lambda: watch_pass(settings))
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        print_table(report)
    if not report["ok"]:
        raise typer.Exit(1)
