"""How a Zoho sync run shows its progress (see `app.services.syncprogress`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from app.services import syncprogress
from app.services.syncprogress import BarProgress, LogProgress
from app.services.zoho.sync.engine import Observer
from app.services.zoho.sync.report import SyncProgress

__all__ = ["VIEW", "BarProgress", "LogProgress", "progress_observer"]


def _fields(progress: SyncProgress) -> dict[str, Any]:
    return {
        "attio_records": progress.attio_records,
        "zoho_items": progress.zoho_items,
        "planned": progress.planned,
        "finished": progress.finished,
        **progress.counts.totals(),
    }


def _describe(progress: SyncProgress) -> str:
    counts = progress.counts
    more = "" if progress.zoho_complete else "+"
    return (
        f"{progress.phase.value}: Zoho {progress.zoho_items}{more} items, "
        f"Attio {progress.attio_records} records | created {counts.created} "
        f"updated {counts.updated} deactivated {counts.deactivated} "
        f"unchanged {counts.unchanged} failed {counts.failed}"
    )


VIEW = syncprogress.ProgressView[SyncProgress]("sync.progress", _fields, _describe)


@contextmanager
def progress_observer(stream: TextIO | None = None) -> Iterator[Observer]:
    with syncprogress.progress_observer(VIEW, stream) as observer:
        yield observer
