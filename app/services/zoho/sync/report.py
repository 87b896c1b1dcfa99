"""What a sync run did and is doing: counts, live progress, the final report."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from app.services.syncpipeline import Outcome as PipelineOutcome
from app.services.syncpipeline import Phase, SyncCounts, Tally

__all__ = [
    "FailedItem",
    "OpKind",
    "Outcome",
    "Phase",
    "PlannedWrite",
    "SyncCounts",
    "SyncProgress",
    "SyncReport",
]


class OpKind(StrEnum):
    create = "create"
    update = "update"
    deactivate = "deactivate"


# What happened to one Zoho record in a run: a write of some kind, or none.
Outcome = OpKind | Literal["unchanged", "failed"]
_DONE: dict[Outcome, PipelineOutcome] = {
    OpKind.create: "created",
    OpKind.update: "updated",
    OpKind.deactivate: "deactivated",
    "unchanged": "unchanged",
    "failed": "failed",
}


@dataclass(frozen=True)
class PlannedWrite:
    kind: OpKind
    zoho_item_id: str
    name: str | None
    changed: tuple[str, ...]
    source: str = ""  # the catalogue: books, inventory or crm

    def as_dict(self) -> dict[str, Any]:
        return {
            "op": self.kind.value,
            "source": self.source,
            "zoho_item_id": self.zoho_item_id,
            "name": self.name,
            "changed": list(self.changed),
        }


@dataclass(frozen=True)
class FailedItem:
    zoho_item_id: str
    kind: OpKind | None
    error: str
    event_key: str
    source: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "zoho_item_id": self.zoho_item_id,
            "op": self.kind.value if self.kind else None,
            "error": self.error,
            "event_key": self.event_key,
        }


@dataclass
class SyncProgress:
    """Live state of a run; observers and `GET /admin/sync/zoho` read it while it changes."""

    source: str  # the catalogues read, e.g. `books` or `books+crm`
    dry_run: bool
    phase: Phase = Phase.reading
    attio_records: int = 0  # `services` records read from Attio
    zoho_items: int = 0  # items read from Zoho so far
    zoho_complete: bool = False
    planned: int = 0  # writes decided so far (the total is known once Zoho is fully read)
    finished: int = 0  # writes done or failed
    counts: SyncCounts = field(default_factory=SyncCounts)  # per catalogue
    error: str | None = None

    @property
    def by_source(self) -> dict[str, Tally]:
        return self.counts.groups

    def tally(self, source: str, outcome: Outcome) -> None:
        self.counts.add(source, _DONE[outcome])

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "dry_run": self.dry_run,
            "phase": self.phase.value,
            "attio_records": self.attio_records,
            "zoho_items": self.zoho_items,
            "zoho_complete": self.zoho_complete,
            "planned": self.planned,
            "finished": self.finished,
            "counts": self.counts.as_dict(),
            "by_source": _by_source(self.counts),
            "error": self.error,
        }


@dataclass
class SyncReport:
    source: str
    dry_run: bool
    counts: SyncCounts
    elapsed_seconds: float
    error: str | None = None  # set when the run was aborted
    plan: list[PlannedWrite] = field(default_factory=list)  # dry runs only
    failures: list[FailedItem] = field(default_factory=list)

    @property
    def by_source(self) -> dict[str, Tally]:
        return self.counts.groups

    @property
    def ok(self) -> bool:
        return self.error is None and self.counts.failed == 0

    def summary_line(self) -> str:
        prefix = "dry run, would write: " if self.dry_run else ""
        status = f" ABORTED: {self.error}" if self.error else ""
        return f"{prefix}{self.counts.line()} ({self.elapsed_seconds:.1f} s){status}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "dry_run": self.dry_run,
            "counts": self.counts.as_dict(),
            "by_source": _by_source(self.counts),
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            "error": self.error,
            "plan": [entry.as_dict() for entry in self.plan],
            "failures": [failure.as_dict() for failure in self.failures],
        }


def _by_source(counts: SyncCounts) -> dict[str, dict[str, int]]:
    return {name: tally.as_dict() for name, tally in counts.groups.items()}
