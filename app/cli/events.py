"""`attio-bridge events list | replay | retry-due | prune`: the ledger of failed events."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer

from app.cli import _common
from app.cli._admin import admin_call
from app.cli._common import JsonOption
from app.events.ledger import (
    DEFAULT_PRUNE_LIMIT,
    MAX_PRUNE_LIMIT,
    SETTLED_STATUSES,
    LedgerEntry,
    LedgerStatus,
)
from app.events.model import Source
from app.events.replay import ReplayReport, ReplayStatus

events_cli = typer.Typer(help="The event ledger: list, replay and retry failed events.")


def _print_report(report: ReplayReport, *, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
        return
    for result in report.results:
        typer.echo(f"{result.status.value:<13} {result.event_key}  {result.detail or ''}".rstrip())
    counts = ", ".join(f"{k}={v}" for k, v in report.counts().items() if v)
    typer.echo(f"{len(report.results)} event(s): {counts or 'nothing to do'}")


def _print_report_dict(report: dict[str, Any], *, as_json: bool) -> None:
    """A report as the admin API gives it (ReplayReport.as_dict())."""
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    for result in report.get("results", []):
        line = f"{result['status']:<13} {result['event_key']}  {result.get('detail') or ''}"
        typer.echo(line.rstrip())
    counts = ", ".join(f"{k}={v}" for k, v in report.get("counts", {}).items() if v)
    typer.echo(f"{len(report.get('results', []))} event(s): {counts or 'nothing to do'}")


StatusOption = Annotated[LedgerStatus | None, typer.Option(help="Only records with this status.")]
SourceOption = Annotated[Source | None, typer.Option(help="Only events from this provider.")]
TypeOption = Annotated[str | None, typer.Option(help="Only this event type.")]
LimitOption = Annotated[int, typer.Option(min=1, max=1000, help="At most this many records.")]


@events_cli.command("list")
def events_list(
    status: StatusOption = None,
    source: SourceOption = None,
    event_type: TypeOption = None,
    limit: LimitOption = 100,
    as_json: JsonOption = False,
) -> None:
    """List ledger records, newest attempt first."""
    settings = _common.load_settings()

    async def go() -> list[dict[str, Any]]:
        async with _common.cli_bridge(settings) as bridge:
            entries = await bridge.ledger.list_entries(
                status=status, source=source, event_type=event_type, limit=limit
            )
        return [entry.summary() for entry in entries]

    rows = _common.run(go)
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
    settings = _common.load_settings()

    async def go() -> ReplayReport:
        async with _common.cli_bridge(settings) as bridge:
            if event_key is not None:
                result = await bridge.replayer.replay_key(event_key, dry_run=dry_run)
                return ReplayReport([result])
            entries = await bridge.ledger.list_entries(
                status=status, source=source, event_type=event_type, limit=limit
            )
            return await bridge.replayer.replay_many(entries, dry_run=dry_run)

    report = _common.run(go)
    _print_report(report, as_json=as_json)
    unsuccessful = {ReplayStatus.failed, ReplayStatus.dead, ReplayStatus.refused}
    if any(result.status in unsuccessful for result in report.results):
        raise typer.Exit(1)


@events_cli.command("retry-due")
def events_retry_due(limit: LimitOption = 500, as_json: JsonOption = False) -> None:
    """Re-attempt failed events whose next attempt time has passed (run by cron).

    With BRIDGE_ADMIN_URL (and no REDIS_URL) the web service runs it, on its Attio budget.
    """
    settings = _common.load_settings()
    if settings.jobs_via_admin_api:
        answer = _common.run_sync(
            lambda: admin_call(settings, "POST", "/admin/events/retry-due", json={"limit": limit})
        )
        _print_report_dict(answer, as_json=as_json)
        return

    async def go() -> ReplayReport:
        async with _common.cli_bridge(settings) as bridge:
            return await bridge.replayer.retry_due(limit=limit)

    # Events failing again is normal here (they are rescheduled): exit 0 unless the run broke.
    _print_report(_common.run(go), as_json=as_json)


def _settled_statuses(value: str) -> list[LedgerStatus]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    settled = {status.value for status in SETTLED_STATUSES}
    if not names or any(name not in settled for name in names):
        raise typer.BadParameter(
            f"only settled records can be pruned: {', '.join(sorted(settled))} "
            "(failed, dead and needs_attention records still ask for work; ignored events "
            "are never stored)"
        )
    return [LedgerStatus(name) for name in names]


@events_cli.command("prune")
def events_prune(
    older_than: Annotated[
        int,
        typer.Option("--older-than", min=1, max=3650, help="Days since the record's last attempt."),
    ],
    status: Annotated[
        str, typer.Option(help="Comma-separated settled statuses to delete.")
    ] = "replayed",
    limit: Annotated[
        int,
        typer.Option(
            min=1, max=MAX_PRUNE_LIMIT, help="At most this many records a run, oldest first."
        ),
    ] = DEFAULT_PRUNE_LIMIT,
    dry_run: Annotated[bool, typer.Option(help="Only list what would be deleted.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Delete settled ledger records (`replayed`) older than --older-than days (run daily).

    Every ledger record counts against the workspace's record allowance; records that still
    ask for work (failed, dead, needs_attention) are never deleted.
    """
    statuses = _settled_statuses(status)
    settings = _common.load_settings()
    if settings.jobs_via_admin_api:
        job = {
            "older_than_days": older_than,
            "statuses": [s.value for s in statuses],
            "limit": limit,
            "dry_run": dry_run,
        }
        answer = _common.run_sync(
            lambda: admin_call(settings, "POST", "/admin/events/prune", json=job)
        )
        if as_json:
            typer.echo(json.dumps(answer))
            return
        for row in answer["records"]:
            last = row["last_attempt_at"] or "-"
            typer.echo(f"{row['status']:<10} {last:<27} {row['event_key']}")
        verb = "would delete" if dry_run else "deleted"
        typer.echo(f"{verb} {answer['deleted']} record(s) (run by the web service)")
        _more_may_remain(answer["deleted"], limit)
        return
    cutoff = datetime.now(UTC) - timedelta(days=older_than)

    async def go() -> list[LedgerEntry]:
        async with _common.cli_bridge(settings) as bridge:
            entries = await bridge.ledger.settled_before(cutoff, statuses, limit=limit)
            if not dry_run:
                await bridge.ledger.delete(entries)
            return entries

    entries = _common.run(go)
    verb = "would delete" if dry_run else "deleted"
    if as_json:
        rows = [entry.summary() for entry in entries]
        typer.echo(json.dumps({"dry_run": dry_run, "deleted": len(entries), "records": rows}))
        return
    for entry in entries:
        last = entry.last_attempt_at.isoformat() if entry.last_attempt_at else "-"
        typer.echo(f"{entry.status.value:<10} {last:<27} {entry.event_key}")
    typer.echo(f"{verb} {len(entries)} record(s) last attempted before {cutoff:%Y-%m-%d}")
    _more_may_remain(len(entries), limit)


def _more_may_remain(deleted: int, limit: int) -> None:
    if deleted >= limit:
        typer.echo(f"the run stopped at --limit {limit}: older records may remain (next run)")
