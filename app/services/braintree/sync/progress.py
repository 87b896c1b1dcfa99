"""How a Braintree sync run shows its progress (see `app.services.syncprogress`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from app.services import syncprogress
from app.services.braintree.sync.engine import Observer
from app.services.braintree.sync.report import BraintreeSyncProgress


def _fields(progress: BraintreeSyncProgress) -> dict[str, Any]:
    return {
        "attio_records": progress.attio_records,
        "braintree_objects": progress.braintree_objects,
        "planned": progress.planned,
        "finished": progress.finished,
        "writes": progress.counts.writes,
        "failed": progress.counts.failed,
    }


def _describe(progress: BraintreeSyncProgress) -> str:
    counts = progress.counts
    more = "" if progress.braintree_complete else "+"
    return (
        f"{progress.phase.value}: Braintree {progress.braintree_objects}{more}, "
        f"Attio {progress.attio_records} | written {counts.writes} failed {counts.failed}"
    )


VIEW = syncprogress.ProgressView[BraintreeSyncProgress](
    "braintree.sync.progress", _fields, _describe
)


@contextmanager
def progress_observer(stream: TextIO | None = None) -> Iterator[Observer]:
    with syncprogress.progress_observer(VIEW, stream) as observer:
        yield observer
