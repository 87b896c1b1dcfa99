"""How an Attio → Braintree catch-up shows its progress (see `app.services.syncprogress`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from app.services import syncprogress
from app.services.attio.sync.engine import Observer
from app.services.attio.sync.report import AttioSyncProgress


def _fields(progress: AttioSyncProgress) -> dict[str, Any]:
    return {
        "people": progress.people,
        "braintree_customers": progress.braintree_customers,
        "planned": progress.planned,
        "finished": progress.finished,
        **progress.counts.totals(),
    }


def _describe(progress: AttioSyncProgress) -> str:
    counts = progress.counts
    more = "" if progress.attio_complete else "+"
    return (
        f"{progress.phase.value}: Attio {progress.people}{more} people, "
        f"Braintree {progress.braintree_customers} customers | updated {counts.updated} "
        f"unchanged {counts.unchanged} failed {counts.failed}"
    )


VIEW = syncprogress.ProgressView[AttioSyncProgress]("attio.sync.progress", _fields, _describe)


@contextmanager
def progress_observer(stream: TextIO | None = None) -> Iterator[Observer]:
    with syncprogress.progress_observer(VIEW, stream) as observer:
        yield observer
