"""How a Braintree sync run shows its progress: a bar on a terminal, log lines otherwise."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from app.log import get_logger
from app.services.braintree.sync.engine import Observer
from app.services.braintree.sync.report import BraintreeSyncProgress, Phase

log = get_logger(__name__)


class LogProgress:
    """One `braintree.sync.progress` line per phase change and at most one every `interval` s."""

    def __init__(self, interval: float = 5.0) -> None:
        self._interval = interval
        self._last_at = float("-inf")
        self._last_phase: Phase | None = None

    def __call__(self, progress: BraintreeSyncProgress) -> None:
        now = time.monotonic()
        if progress.phase is self._last_phase and now - self._last_at < self._interval:
            return
        self._last_at, self._last_phase = now, progress.phase
        log.info(
            "braintree.sync.progress",
            phase=progress.phase.value,
            attio_records=progress.attio_records,
            braintree_objects=progress.braintree_objects,
            planned=progress.planned,
            finished=progress.finished,
            writes=progress.counts.writes,
            failed=progress.counts.failed,
        )


class BarProgress:
    """Writes finished out of writes planned (the total grows while Braintree is read)."""

    def __init__(self, bar: Progress) -> None:
        self._bar = bar
        self._task = bar.add_task("reading", total=None)

    def __call__(self, progress: BraintreeSyncProgress) -> None:
        counts = progress.counts
        more = "" if progress.braintree_complete else "+"
        self._bar.update(
            self._task,
            completed=progress.finished,
            total=max(progress.planned, 1) if progress.planned else None,
            description=(
                f"{progress.phase.value}: Braintree {progress.braintree_objects}{more}, "
                f"Attio {progress.attio_records} | written {counts.writes} "
                f"failed {counts.failed}"
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
