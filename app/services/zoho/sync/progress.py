"""Showing a sync's progress: a rich progress bar on a terminal, structured log lines otherwise."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from app.log import get_logger
from app.services.zoho.sync.engine import Observer
from app.services.zoho.sync.report import Phase, SyncProgress

log = get_logger(__name__)


class LogProgress:
    """One `sync.progress` line per phase change and at most one every `interval` seconds."""

    def __init__(self, interval: float = 5.0) -> None:
        self._interval = interval
        self._last_at = float("-inf")
        self._last_phase: Phase | None = None

    def __call__(self, progress: SyncProgress) -> None:
        now = time.monotonic()
        if progress.phase is self._last_phase and now - self._last_at < self._interval:
            return
        self._last_at, self._last_phase = now, progress.phase
        log.info(
            "sync.progress",
            phase=progress.phase.value,
            attio_records=progress.attio_records,
            zoho_items=progress.zoho_items,
            planned=progress.planned,
            finished=progress.finished,
            **progress.counts.as_dict(),
        )


class BarProgress:
    """A rich bar of writes finished out of writes planned (the total grows while Zoho is read)."""

    def __init__(self, bar: Progress) -> None:
        self._bar = bar
        self._task = bar.add_task("reading", total=None)

    def __call__(self, progress: SyncProgress) -> None:
        counts = progress.counts
        more = "" if progress.zoho_complete else "+"
        self._bar.update(
            self._task,
            completed=progress.finished,
            total=max(progress.planned, 1) if progress.planned else None,
            description=(
                f"{progress.phase.value}: Zoho {progress.zoho_items}{more} items, "
                f"Attio {progress.attio_records} records | created {counts.created} "
                f"updated {counts.updated} deactivated {counts.deactivated} "
                f"unchanged {counts.unchanged} failed {counts.failed}"
            ),
        )


@contextmanager
def progress_observer(stream: TextIO | None = None) -> Iterator[Observer]:
    """A bar when `stream` (stderr by default) is a terminal, log lines when it is not."""
    stream = stream or sys.stderr
    if not stream.isatty():
        yield LogProgress()
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(file=stream), transient=False) as bar:
        yield BarProgress(bar)
