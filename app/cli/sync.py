"""`attio-bridge sync zoho|braintree|attio`: backfill and reconcile Attio with a source system,
and catch up Attio edits in Braintree."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Protocol, TypeVar
from urllib.parse import urlencode

import typer

from app.cli import _common
from app.cli._admin import AdminAPIError, admin_call
from app.cli._common import JsonOption
from app.config import Settings
from app.services.attio.sync import progress as attio_progress
from app.services.attio.sync.report import AttioSyncReport
from app.services.braintree.sync import progress as braintree_progress
from app.services.braintree.sync.report import BraintreeSyncReport
from app.services.braintree.sync.verify import MrrCheck
from app.services.syncpipeline import DEFAULT_CONCURRENCY
from app.services.syncrunner import SyncRun
from app.services.zoho.sync.progress import progress_observer
from app.services.zoho.sync.report import SyncProgress, SyncReport

sync_cli = typer.Typer(
    help="Backfill and reconcile Attio with a source system; catch up Attio edits in Braintree.",
    no_args_is_help=True,
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
    if settings.jobs_via_admin_api:
        run = _common.run_sync(lambda: _sync_on_the_web_service(settings, "zoho", dry_run=dry_run))
        _report_web_run(run, as_json=as_json)
        return

    async def go() -> SyncReport:
        async with (
            _common.cli_bridge(settings) as bridge,
            _common.zoho_client_for_cli(settings) as zoho,
        ):
            sync = bridge.zoho_service.new_sync(zoho, concurrency=concurrency)
            progress = SyncProgress(source=sync.label, dry_run=dry_run)
            with progress_observer() as observer:

                async def job() -> SyncReport:
                    return await sync.run(dry_run=dry_run, observer=observer, progress=progress)

                # Through the shared runner: one run at a time, recorded for GET /admin/sync.
                run = await bridge.zoho_service.sync_runner.run(job, progress)
            if not isinstance(run.report, SyncReport):
                raise typer.Exit(1)
            return run.report

    report = _common.run(go)
    _print_sync_report(report, as_json=as_json)
    if not report.ok:
        raise typer.Exit(1)


# Seconds between status polls of a sync the web service runs, and the longest wait for one
# (a first Braintree backfill takes hours).
POLL_SECONDS = 5.0
POLL_DEADLINE_SECONDS = 12 * 3600.0


def _sync_on_the_web_service(
    settings: Settings, source: str, *, dry_run: bool, since: datetime | None = None
) -> dict[str, Any]:
    """Start the source's sync on the web service (its Attio budget) and wait for its end."""
    query = [("dry_run", "true")] if dry_run else []
    if since is not None:
        query.append(("since", since.isoformat()))
    path = f"/admin/sync/{source}"
    started = admin_call(
        settings, "POST", f"{path}?{urlencode(query)}" if query else path, ok=(202,)
    )
    deadline = time.monotonic() + POLL_DEADLINE_SECONDS
    run_id = started.get("run_id")
    while True:
        status = admin_call(settings, "GET", path)
        last = status.get("last_run") or {}
        if not status.get("running"):
            if last.get("run_id") == run_id:
                return dict(last)
            # Nothing runs and the last run is another: the web service restarted mid-run.
            raise AdminAPIError(
                f"sync run {run_id} is no longer on the web service (restarted mid-run?); "
                "the next run starts from the recorded watermark"
            )
        if time.monotonic() >= deadline:
            raise AdminAPIError(
                f"sync run {run_id} did not finish within {POLL_DEADLINE_SECONDS:g} s; "
                f"see GET {path}"
            )
        time.sleep(POLL_SECONDS)


def _run_line(run: dict[str, Any]) -> str:
    """The run's totals and notes, then each group's (a catalogue, a Braintree object)."""
    counts = (run.get("summary") or {}).get("counts") or {}
    figures = " ".join(
        f"{name}={value}" for name, value in counts.items() if not isinstance(value, dict)
    )
    for name, value in counts.items():
        if isinstance(value, dict):
            figures += f" {name}:" + ",".join(f"{k}={v}" for k, v in value.items())
    return f"sync {run.get('run_id')} on the web service: {run.get('status')} {figures}".rstrip()


def _report_web_run(run: dict[str, Any], *, as_json: bool) -> None:
    typer.echo(json.dumps(run, indent=2) if as_json else _run_line(run))
    counts = (run.get("summary") or {}).get("counts") or {}
    if run.get("status") != "succeeded" or counts.get("failed", 0):
        raise typer.Exit(1)


def _since(value: str | None) -> datetime | None:
    """An ISO 8601 date or time; without a zone it is UTC (as Braintree's own times are)."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"not an ISO 8601 date or time: {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class _Report(Protocol):
    @property
    def ok(self) -> bool: ...


ReportT = TypeVar("ReportT", bound=_Report)


def _finish(
    run: SyncRun,
    kind: type[ReportT],
    show: Callable[..., None],
    *,
    as_json: bool,
) -> None:
    """Print a finished run's report; exit 1 when it crashed (no report) or failed records."""
    report = run.report
    if not isinstance(report, kind):
        typer.secho(f"error: the run crashed: {run.error}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
    show(report, as_json=as_json)
    if not report.ok:
        raise typer.Exit(1)


def _print_braintree_report(report: BraintreeSyncReport, *, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
        return
    for change in report.plan:
        op = "create" if change.create else "update"
        typer.echo(f"{op:<7} {change.obj:<14} {change.key:<24} [{','.join(change.changed)}]")
    for failure in report.failures:
        typer.echo(f"failed  {failure.kind:<14} {failure.object_id:<24} {failure.error}", err=True)
    if report.counts.failed > len(report.failures):
        typer.echo(f"... {report.counts.failed - len(report.failures)} more failures", err=True)
    for line in report.summary_lines():
        typer.echo(line)


def _verify_mrr(settings: Settings, *, as_json: bool) -> None:
    async def go() -> MrrCheck:
        async with _common.cli_bridge(settings) as bridge:
            return await bridge.braintree_service.verify_mrr()

    check = _common.run(go)
    if as_json:
        typer.echo(json.dumps({"ok": check.ok, "mismatches": check.mismatches}, indent=2))
    else:
        for mismatch in check.mismatches:
            typer.echo(mismatch)
        typer.echo(check.line())
    if not check.ok:
        raise typer.Exit(1)


@sync_cli.command("braintree")
def sync_braintree(
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Start of the window (ISO date or time, UTC unless given); default: the "
            "watermark kept in Attio less 1 h, or everything on a first run.",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would change; write nothing.")
    ] = False,
    concurrency: Annotated[
        int, typer.Option(min=1, max=64, help="Concurrent Attio writes (the limiter still rules).")
    ] = DEFAULT_CONCURRENCY,
    as_json: JsonOption = False,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify",
            help="Check instead of syncing: every person's mrr is the sum of their "
            "subscriptions', every company's the sum over its people.",
        ),
    ] = False,
) -> None:
    """Bring Attio's subscriptions, payments, disputes and billing summaries in step with
    Braintree's state.

    Exits 1 when a record failed (it is recorded in the event ledger, and `events retry-due`
    retries it), the run was aborted, another run holds the lock, or `--verify` found a sum
    that does not hold.
    """
    window = _since(since)
    settings = _common.load_settings()
    if verify:
        _verify_mrr(settings, as_json=as_json)
        return
    if settings.jobs_via_admin_api:
        web_run = _common.run_sync(
            lambda: _sync_on_the_web_service(settings, "braintree", dry_run=dry_run, since=window)
        )
        _report_web_run(web_run, as_json=as_json)
        return

    async def go() -> SyncRun:
        async with _common.cli_bridge(settings) as bridge:
            with braintree_progress.progress_observer() as observer:
                return await bridge.braintree_service.run_sync(
                    since=window, dry_run=dry_run, observer=observer, concurrency=concurrency
                )

    _finish(_common.run(go), BraintreeSyncReport, _print_braintree_report, as_json=as_json)


def _print_attio_report(report: AttioSyncReport, *, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
        return
    for entry in report.plan:
        typer.echo(
            f"update  {entry.customer_id:<24} {entry.person:<38} [{','.join(entry.changed)}]"
        )
    for failure in report.failures:
        customer = failure.customer_id or "-"
        typer.echo(f"failed  {customer:<24} {failure.person:<38} {failure.error}", err=True)
    if report.counts.failed > len(report.failures):
        typer.echo(f"... {report.counts.failed - len(report.failures)} more failures", err=True)
    for line in report.summary_lines():
        typer.echo(line)


@sync_cli.command("attio")
def sync_attio(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would be sent; send nothing.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Send Braintree the contact edits Attio holds newer than the customer (name, email,
    phone, company) for every person with a Braintree customer id: edits the Attio webhook
    did not deliver. A value changed later in Braintree is kept.

    Exits 1 when a person failed (it is recorded in the event ledger, and `events retry-due`
    retries it), the run was aborted, or another run holds the lock.
    """
    settings = _common.load_settings()
    if settings.jobs_via_admin_api:
        web_run = _common.run_sync(
            lambda: _sync_on_the_web_service(settings, "attio", dry_run=dry_run)
        )
        _report_web_run(web_run, as_json=as_json)
        return

    async def go() -> SyncRun:
        async with _common.cli_bridge(settings) as bridge:
            with attio_progress.progress_observer() as observer:
                return await bridge.attio_service.run_sync(dry_run=dry_run, observer=observer)

    _finish(_common.run(go), AttioSyncReport, _print_attio_report, as_json=as_json)
