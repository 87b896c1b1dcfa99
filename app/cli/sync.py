"""`attio-bridge sync zoho`: backfill and reconcile Attio from a source system."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import typer

from app.cli import _common
from app.cli._admin import admin_call
from app.cli._common import JsonOption
from app.clients.zoho import ItemsSource
from app.config import Settings
from app.services.zoho.sync.engine import DEFAULT_CONCURRENCY, ZohoServicesSync
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
    settings = _common.load_settings()
    if settings.jobs_via_admin_api:
        run = _common.run_sync(lambda: _sync_on_the_web_service(settings, dry_run=dry_run))
        typer.echo(json.dumps(run, indent=2) if as_json else _run_line(run))
        failed = ((run.get("summary") or {}).get("counts") or {}).get("failed", 0)
        if run.get("status") != "succeeded" or failed:
            raise typer.Exit(1)
        return

    async def go() -> SyncReport:
        async with (
            _common.cli_bridge(settings) as bridge,
            _common.zoho_client_for_cli(settings) as zoho,
        ):
            sync = ZohoServicesSync(
                bridge.attio,
                zoho,
                bridge.ledger,
                source=ItemsSource(settings.zoho_items_source),
                concurrency=concurrency,
            )
            with progress_observer() as observer:
                return await sync.run(dry_run=dry_run, observer=observer)

    report = _common.run(go)
    _print_sync_report(report, as_json=as_json)
    if not report.ok:
        raise typer.Exit(1)


# Seconds between status polls of a sync the web service runs.
POLL_SECONDS = 5.0


def _sync_on_the_web_service(settings: Settings, *, dry_run: bool) -> dict[str, Any]:
    """Start the sync on the web service (its Attio budget) and wait for its run to end."""
    path = "/admin/sync/zoho?dry_run=true" if dry_run else "/admin/sync/zoho"
    started = admin_call(settings, "POST", path, ok=(202,))
    while True:
        status = admin_call(settings, "GET", "/admin/sync/zoho")
        last = status.get("last_run") or {}
        if not status.get("running") and last.get("run_id") == started.get("run_id"):
            return dict(last)
        time.sleep(POLL_SECONDS)


def _run_line(run: dict[str, Any]) -> str:
    counts = (run.get("summary") or {}).get("counts") or {}
    figures = " ".join(f"{name}={value}" for name, value in counts.items())
    return f"sync {run.get('run_id')} on the web service: {run.get('status')} {figures}".rstrip()
