"""What a Braintree sync run did and is doing: counts per object, progress, the final report."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from app.clients.attio.values import iso_timestamp
from app.services.syncpipeline import MAX_REPORTED, Phase, SyncCounts

__all__ = [
    "BraintreeSyncProgress",
    "BraintreeSyncReport",
    "FailedRecord",
    "Phase",
    "PlannedChange",
    "braintree_counts",
]

OBJECTS = ("subscription", "transaction", "dispute", "person")
NOTES = (
    "stale",  # Attio held newer state (a webhook's): left alone
    "unplaced",  # a one-off sale's payment or dispute without a payments object
)


def braintree_counts() -> SyncCounts:
    """Counts per Braintree object (a person is written for a customer), all shown from the
    start; a Braintree run never deactivates."""
    return SyncCounts.of_groups(
        OBJECTS, notes=NOTES, outcomes=("created", "updated", "unchanged", "failed")
    )


@dataclass(frozen=True)
class PlannedChange:
    """A write a dry run would make."""

    obj: str  # the Attio object
    key: str  # its unique key's value
    create: bool
    changed: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "object": self.obj,
            "key": self.key,
            "op": "create" if self.create else "update",
            "changed": list(self.changed),
        }


@dataclass(frozen=True)
class FailedRecord:
    kind: str  # subscription | transaction | dispute
    object_id: str
    error: str
    event_key: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BraintreeSyncProgress:
    """Live state of a run; observers and `GET /admin/sync/braintree` read it as it changes."""

    dry_run: bool
    since: datetime | None = None
    phase: Phase = Phase.reading
    attio_records: int = 0
    braintree_objects: int = 0
    braintree_complete: bool = False
    planned: int = 0
    finished: int = 0
    counts: SyncCounts = field(default_factory=braintree_counts)
    error: str | None = None

    source = "braintree"

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "dry_run": self.dry_run,
            "since": iso_timestamp(self.since),
            "phase": self.phase.value,
            "attio_records": self.attio_records,
            "braintree_objects": self.braintree_objects,
            "braintree_complete": self.braintree_complete,
            "planned": self.planned,
            "finished": self.finished,
            "counts": self.counts.as_dict(),
            "error": self.error,
        }


@dataclass
class BraintreeSyncReport:
    dry_run: bool
    since: datetime | None
    counts: SyncCounts
    elapsed_seconds: float
    error: str | None = None
    plan: list[PlannedChange] = field(default_factory=list)  # dry runs only
    failures: list[FailedRecord] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None and self.counts.failed == 0

    def summary_lines(self) -> list[str]:
        prefix = "would write " if self.dry_run else ""
        window = f"since {iso_timestamp(self.since)}" if self.since else "everything"
        lines = [f"Braintree sync ({window}), {self.elapsed_seconds:.1f} s"]
        for name in self.counts.groups:
            lines.append(f"  {name:<13} {prefix}{self.counts.line(name)}")
        lines.append("  " + " ".join(f"{k}={v}" for k, v in self.counts.notes.items()))
        if self.error:
            lines.append(f"ABORTED: {self.error}")
        return lines

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": "braintree",
            "dry_run": self.dry_run,
            "since": iso_timestamp(self.since),
            "counts": self.counts.as_dict(),
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            "error": self.error,
            "plan": [entry.as_dict() for entry in self.plan[:MAX_REPORTED]],
            "failures": [failure.as_dict() for failure in self.failures],
        }
