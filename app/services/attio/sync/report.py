"""What an Attio → Braintree catch-up did and is doing: counts, live progress, the report."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from app.services.syncpipeline import MAX_REPORTED, Phase, SyncCounts

__all__ = [
    "AttioSyncProgress",
    "AttioSyncReport",
    "FailedCustomer",
    "Phase",
    "PlannedUpdate",
    "attio_counts",
]

GROUP = "customer"
NOTES = (
    "kept",  # a field differs but Braintree changed it as late or later: left alone
    "missing",  # the person names a Braintree customer Braintree does not have
)


def attio_counts() -> SyncCounts:
    """Counts of Braintree customers; the catch-up only updates (never creates or deletes),
    and shows `created` for the same shape as the other syncs."""
    return SyncCounts.of_groups(
        (GROUP,), notes=NOTES, outcomes=("created", "updated", "unchanged", "failed")
    )


@dataclass(frozen=True)
class PlannedUpdate:
    """An update a dry run would send."""

    person: str  # the Attio record id
    customer_id: str
    changed: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "person": self.person,
            "customer_id": self.customer_id,
            "op": "update",
            "changed": list(self.changed),
        }


@dataclass(frozen=True)
class FailedCustomer:
    person: str
    customer_id: str | None
    error: str
    event_key: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class AttioSyncProgress:
    """Live state of a run; observers and `GET /admin/sync/attio` read it as it changes."""

    dry_run: bool
    phase: Phase = Phase.reading
    attio_records: int = 0  # companies and people read from Attio
    people: int = 0  # people with a Braintree customer id read so far
    braintree_customers: int = 0  # customers read from Braintree
    attio_complete: bool = False
    planned: int = 0
    finished: int = 0
    counts: SyncCounts = field(default_factory=attio_counts)
    error: str | None = None

    source = "attio"

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "dry_run": self.dry_run,
            "phase": self.phase.value,
            "attio_records": self.attio_records,
            "people": self.people,
            "braintree_customers": self.braintree_customers,
            "attio_complete": self.attio_complete,
            "planned": self.planned,
            "finished": self.finished,
            "counts": self.counts.as_dict(),
            "error": self.error,
        }


@dataclass
class AttioSyncReport:
    dry_run: bool
    counts: SyncCounts
    elapsed_seconds: float
    error: str | None = None  # set when the run was aborted
    plan: list[PlannedUpdate] = field(default_factory=list)  # dry runs only
    failures: list[FailedCustomer] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None and self.counts.failed == 0

    def summary_lines(self) -> list[str]:
        prefix = "would write " if self.dry_run else ""
        lines = [f"Attio -> Braintree catch-up, {self.elapsed_seconds:.1f} s"]
        lines.append(f"  {GROUP:<13} {prefix}{self.counts.line(GROUP)}")
        lines.append("  " + " ".join(f"{k}={v}" for k, v in self.counts.notes.items()))
        if self.error:
            lines.append(f"ABORTED: {self.error}")
        return lines

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": "attio",
            "dry_run": self.dry_run,
            "counts": self.counts.as_dict(),
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            "error": self.error,
            "plan": [entry.as_dict() for entry in self.plan[:MAX_REPORTED]],
            "failures": [failure.as_dict() for failure in self.failures],
        }
