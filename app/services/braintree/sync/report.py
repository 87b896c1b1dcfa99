"""What a Braintree sync run did and is doing: counts per object, progress, the final report."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from app.clients.attio.values import iso_timestamp

MAX_REPORTED = 100  # the ledger holds every failure; reports show the first ones

OBJECTS = ("subscription", "transaction", "dispute", "person")


class Phase(StrEnum):
    reading = "reading"  # loading Attio, reading Braintree, writing what differs so far
    writing = "writing"  # Braintree fully read; finishing the writes
    done = "done"
    aborted = "aborted"  # a side could not be read; the watermark stays where it was


@dataclass
class ObjectCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0

    @property
    def writes(self) -> int:
        return self.created + self.updated

    def line(self) -> str:
        return " ".join(f"{name}={value}" for name, value in asdict(self).items())


@dataclass
class BraintreeCounts:
    by_object: dict[str, ObjectCounts] = field(
        default_factory=lambda: {name: ObjectCounts() for name in OBJECTS}
    )
    stale: int = 0  # Attio held newer state (a webhook's): left alone
    unplaced: int = 0  # a one-off sale's payment or dispute without a payments object

    def of(self, obj: str) -> ObjectCounts:
        return self.by_object[obj]

    @property
    def writes(self) -> int:
        return sum(counts.writes for counts in self.by_object.values())

    @property
    def failed(self) -> int:
        return sum(counts.failed for counts in self.by_object.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            **{name: asdict(counts) for name, counts in self.by_object.items()},
            "stale": self.stale,
            "unplaced": self.unplaced,
        }


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
    counts: BraintreeCounts = field(default_factory=BraintreeCounts)
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
    counts: BraintreeCounts
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
        for name, counts in self.counts.by_object.items():
            lines.append(f"  {name:<13} {prefix}{counts.line()}")
        lines.append(f"  stale={self.counts.stale} unplaced={self.counts.unplaced}")
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
