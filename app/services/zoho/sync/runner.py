"""Background Zoho sync runs for the admin API, through the shared runner (lock and state)."""

from __future__ import annotations

from app.services.syncrunner import SyncAlreadyRunningError, SyncRun, SyncRunner
from app.services.zoho.sync.engine import ZohoServicesSync
from app.services.zoho.sync.report import SyncProgress, SyncReport

__all__ = ["SyncAlreadyRunningError", "SyncRun", "SyncRunner", "start_zoho_sync"]


async def start_zoho_sync(runner: SyncRunner, sync: ZohoServicesSync, *, dry_run: bool) -> SyncRun:
    progress = SyncProgress(source=sync.label, dry_run=dry_run)

    async def job() -> SyncReport:
        return await sync.run(dry_run=dry_run, progress=progress)

    return await runner.start(job, progress)
