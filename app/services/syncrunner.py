"""Sync runs of any source: one at a time (the `SyncLock`, across processes), recorded in Attio.

A run is started in the background for the admin API (`start`) or in the foreground for the
CLI and the cron job (`run`); both take the source's lock first, refresh it while the run
lasts, record the run (start, end, counts, outcome) and the watermark in the source's state
record, and release the lock. A dry run writes nothing: no lock, no state, no watermark.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from app.clients.attio.values import iso_timestamp
from app.errors import BridgeError, describe
from app.log import get_logger
from app.services.syncstate import LastRun, LockHandle, SyncLock, SyncState, SyncStateStore

log = get_logger(__name__)


class SyncAlreadyRunningError(BridgeError):
    status_code = 409
    code = "sync_running"


class RunStatus(StrEnum):
    running = "running"
    succeeded = "succeeded"  # completed; per-record failures are in the counts and the ledger
    failed = "failed"  # aborted, or could not start


class Progress(Protocol):
    dry_run: bool

    def as_dict(self) -> dict[str, Any]: ...


class Report(Protocol):
    @property
    def error(self) -> str | None: ...

    def as_dict(self) -> dict[str, Any]: ...


Job = Callable[[], Awaitable[Report]]


@dataclass
class SyncRun:
    progress: Progress
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    status: RunStatus = RunStatus.running
    report: Report | None = None
    error: str | None = None  # the run crashed (a report's own error is in the report)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": self.status.value,
            "started_at": iso_timestamp(self.started_at),
            "finished_at": iso_timestamp(self.finished_at),
            "progress": self.progress.as_dict(),
            "summary": self.report.as_dict() if self.report else None,
            "error": self.error,
        }


class SyncRunner:
    def __init__(
        self,
        source: str,
        *,
        lock: SyncLock | None = None,
        state: SyncStateStore | None = None,
    ) -> None:
        self.source = source
        self.lock = lock
        self.state = state
        self._task: asyncio.Task[None] | None = None
        self.last: SyncRun | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(
        self,
        job: Job,
        progress: Progress,
        *,
        since: datetime | None = None,
        watermark: datetime | None = None,
    ) -> SyncRun:
        """Take the lock and run `job` in the background; 409 when a run holds the lock."""
        if self.running:
            raise SyncAlreadyRunningError(f"A {self.source} sync is already running")
        handle = await self._acquire(progress.dry_run)
        run = SyncRun(progress)
        self.last = run
        self._task = asyncio.create_task(
            self._guarded(job, run, handle, since, watermark),
            name=f"{self.source}-sync-{run.run_id}",
        )
        return run

    async def run(
        self,
        job: Job,
        progress: Progress,
        *,
        since: datetime | None = None,
        watermark: datetime | None = None,
    ) -> SyncRun:
        """Take the lock and run `job` here, to the end (the CLI and the cron job)."""
        handle = await self._acquire(progress.dry_run)
        run = SyncRun(progress)
        self.last = run
        await self._guarded(job, run, handle, since, watermark)
        return run

    async def _acquire(self, dry_run: bool) -> LockHandle | None:
        if dry_run or self.lock is None:
            return None
        handle = await self.lock.acquire(self.source)
        if handle is None:
            raise SyncAlreadyRunningError(f"A {self.source} sync is already running")
        return handle

    async def _guarded(
        self,
        job: Job,
        run: SyncRun,
        handle: LockHandle | None,
        since: datetime | None,
        watermark: datetime | None,
    ) -> None:
        heartbeat = asyncio.create_task(self._heartbeat(handle)) if handle else None
        try:
            run.report = await job()
            run.status = RunStatus.failed if run.report.error else RunStatus.succeeded
        except Exception as exc:
            log.exception("sync.crashed", source=self.source)
            run.status = RunStatus.failed
            run.error = describe(exc)
        finally:
            run.finished_at = datetime.now(UTC)
            if heartbeat is not None:
                heartbeat.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await heartbeat
            try:
                await self._record(run, since, watermark)
            finally:
                if handle is not None and self.lock is not None:
                    await self._release(handle)

    async def _heartbeat(self, handle: LockHandle | None) -> None:
        """Keep the lock alive while the run lasts (a crash leaves it to go stale)."""
        assert handle is not None and self.lock is not None
        interval = max(1.0, self.lock.ttl.total_seconds() / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                handle = await self.lock.refresh(handle)
            except Exception as exc:
                log.warning("sync.lock.refresh_failed", source=self.source, error=describe(exc))

    async def _release(self, handle: LockHandle) -> None:
        assert self.lock is not None
        try:
            await self.lock.release(handle)
        except Exception as exc:  # it goes stale and the next run takes it over
            log.error("sync.lock.release_failed", source=self.source, error=describe(exc))

    async def _record(
        self, run: SyncRun, since: datetime | None, watermark: datetime | None
    ) -> None:
        if self.state is None or run.progress.dry_run:
            return
        summary = run.report.as_dict() if run.report else {}
        error = summary.get("error") or run.error
        last = LastRun(
            started_at=run.started_at,
            finished_at=run.finished_at,
            outcome=run.status.value,
            counts=summary.get("counts") or {},
            error=error,
            since=since,
        )
        # The watermark moves only when the run read everything it set out to read.
        moved = watermark if run.status is RunStatus.succeeded else None
        try:
            await self.state.record_run(self.source, last, watermark=moved)
        except Exception as exc:
            log.error("sync.state_write_failed", source=self.source, error=describe(exc))

    async def status(self) -> dict[str, Any]:
        """This process's run (live progress), the source's state in Attio, a holder elsewhere."""
        state = await self.load_state()
        holder = await self.lock.holder(self.source) if self.lock is not None else None
        return {
            "source": self.source,
            "running": self.running or holder is not None,
            "lock": holder,
            "last_run": self.last.as_dict() if self.last else None,  # this process's
            "recorded": state.as_dict() if state else None,  # any process's, from Attio
        }

    async def load_state(self) -> SyncState | None:
        return await self.state.load(self.source) if self.state is not None else None

    async def wait(self) -> None:
        """Until the current run (if any) has finished."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def aclose(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
