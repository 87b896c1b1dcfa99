"""Background sync runs for the admin API: one at a time per process, last run kept for GET."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from app.clients.attio.values import iso_timestamp
from app.errors import BridgeError
from app.events.processor import describe
from app.log import get_logger
from app.services.zoho.sync.engine import ZohoServicesSync
from app.services.zoho.sync.report import Phase, SyncProgress, SyncReport

log = get_logger(__name__)


class SyncAlreadyRunningError(BridgeError):
    status_code = 409
    code = "sync_running"


class RunStatus(StrEnum):
    running = "running"
    succeeded = "succeeded"  # completed; per-item failures are in the counts and the ledger
    failed = "failed"  # aborted, or could not start


@dataclass
class SyncRun:
    progress: SyncProgress
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    status: RunStatus = RunStatus.running
    report: SyncReport | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": self.status.value,
            "started_at": iso_timestamp(self.started_at),
            "finished_at": iso_timestamp(self.finished_at),
            "progress": self.progress.as_dict(),
            "summary": self.report.as_dict() if self.report else None,
        }


class SyncRunner:
    def __init__(self, make_sync: Callable[[], ZohoServicesSync]) -> None:
        self._make_sync = make_sync
        self._task: asyncio.Task[None] | None = None
        self.last: SyncRun | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self, *, dry_run: bool = False) -> SyncRun:
        """Start a run in the background; raises if one is running or Zoho is not configured."""
        if self.running:
            raise SyncAlreadyRunningError("A Zoho sync is already running in this process")
        sync = self._make_sync()  # fails now (not in the background) when unconfigured
        run = SyncRun(SyncProgress(source=sync.label, dry_run=dry_run))
        self.last = run
        self._task = asyncio.create_task(self._run(sync, run), name=f"zoho-sync-{run.run_id}")
        return run

    async def _run(self, sync: ZohoServicesSync, run: SyncRun) -> None:
        try:
            run.report = await sync.run(dry_run=run.progress.dry_run, progress=run.progress)
            run.status = RunStatus.failed if run.report.error else RunStatus.succeeded
        except Exception as exc:
            log.exception("zoho.sync.crashed")
            run.progress.phase = Phase.aborted
            run.progress.error = describe(exc)
            run.status = RunStatus.failed
        finally:
            run.finished_at = datetime.now(UTC)

    def status(self) -> dict[str, Any]:
        return {"running": self.running, "last_run": self.last.as_dict() if self.last else None}

    async def wait(self) -> None:
        """Until the current run (if any) has finished."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def aclose(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
