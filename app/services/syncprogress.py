"""How a sync run shows its progress: a rich bar on a terminal, structured log lines otherwise.

Each source says what its progress looks like (`ProgressView`: the log line's fields and the
bar's description); the throttling, the bar and the terminal check are the same for all.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TextIO, TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from app.log import get_logger

log = get_logger(__name__)


class RunProgress(Protocol):
    @property
    def phase(self) -> Any: ...  # an enum with a string value

    @property
    def planned(self) -> int: ...

    @property
    def finished(self) -> int: ...


P = TypeVar("P", bound=RunProgress)


@dataclass(frozen=True)
class ProgressView(Generic[P]):
    event: str  # the log line's event name
    fields: Callable[[P], dict[str, Any]]  # the log line's figures
    describe: Callable[[P], str]  # the bar's text


class LogProgress(Generic[P]):
    """One line per phase change and at most one every `interval` seconds."""

    def __init__(self, view: ProgressView[P], interval: float = 5.0) -> None:
        self._view = view
        self._interval = interval
        self._last_at = float("-inf")
        self._last_phase: Any = None

    def __call__(self, progress: P) -> None:
        now = time.monotonic()
        if progress.phase is self._last_phase and now - self._last_at < self._interval:
            return
        self._last_at, self._last_phase = now, progress.phase
        log.info(self._view.event, phase=progress.phase.value, **self._view.fields(progress))


class BarProgress(Generic[P]):
    """Writes finished out of writes planned (the total grows while the source is read)."""

    def __init__(self, view: ProgressView[P], bar: Progress) -> None:
        self._view = view
        self._bar = bar
        self._task = bar.add_task("reading", total=None)

    def __call__(self, progress: P) -> None:
        self._bar.update(
            self._task,
            completed=progress.finished,
            total=max(progress.planned, 1) if progress.planned else None,
            description=self._view.describe(progress),
        )


@contextmanager
def progress_observer(
    view: ProgressView[P], stream: TextIO | None = None
) -> Iterator[Callable[[P], None]]:
    """A bar when `stream` (stderr by default) is a terminal, log lines when it is not."""
    stream = stream or sys.stderr
    if not stream.isatty():
        yield LogProgress(view)
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(file=stream), transient=False) as bar:
        yield BarProgress(view, bar)
