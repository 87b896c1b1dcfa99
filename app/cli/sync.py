"""`attio-bridge sync zoho`: backfill and reconcile Attio from a source system."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from app.cli import _common
from app.cli._common import JsonOption
from app.services.zoho.sync.engine import DEFAULT_CONCURRENCY
from app.services.zoho.sync.progress import progress_observer
from app.services.zoho.sync.report import SyncReport

sync_cli = typer.Typer(
    help="Backfill and reconcile Attio from a source system.", no_args_is_help=True
)


def _print_sync_report(report: SyncReport, *, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
        return
    for entry in report.plan:
        changed = ",".join(entry.changed)
        typer.echo(
            f"{entry.kind.value:<10} {entry.source:<9} {entry.zoho_item_id:<20} "
            f"{entry.name or ''}  [{changed}]"
        )
    for failure in report.failures:
        typer.echo(
            f"failed     {failure.source:<9} {failure.zoho_item_id:<20} {failure.error}", err=True
        )
    if report.counts.failed > len(report.failures):
        typer.echo(f"... {report.counts.failed - len(report.failures)} more failures", err=True)
    if len(report.by_source) > 1:
        for source, counts in report.by_source.items():
            typer.echo(f"{source}: {counts.line()}")
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
    """Make Attio's `services` match Zoho's items (and CRM products when CRM is configured):
    create, update, deactivate what differs.

    Exits 1 when an item failed (it is recorded in the event ledger) or the run was aborted.
    """
    settings = _common.load_settings()

    async def go() -> SyncReport:
        async with (
            _common.cli_bridge(settings) as bridge,
            _common.zoho_client_for_cli(settings) as zoho,
        ):
            sync = bridge.zoho.new_sync(zoho, concurrency=concurrency)
            with progress_observer() as observer:
                return await sync.run(dry_run=dry_run, observer=observer)

    report = _common.run(go)
    _print_sync_report(report, as_json=as_json)
    if not report.ok:
        raise typer.Exit(1)
