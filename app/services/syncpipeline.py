"""The pipeline every sync runs on, whatever its source.

A run reads the source page by page while Attio's records load into the engine's index, plans
each page against that index as it arrives, and writes what differs on a pool of workers (the
Attio client's shared write limiter bounds them, so a run writes at Attio's limit while webhooks
share the budget). A record that fails is counted, reported and recorded in the ledger, and the
run goes on; an earlier run's ledger entry is settled once its record goes through. Failing to
read Attio aborts the run before anything is written; what a failed source read means is the
engine's to say.

An engine calls the pipeline with its own steps (`Steps`: read, load, plan, write, failed),
so each engine keeps what is its source's own and nothing else:

    pipeline = SyncPipeline("zoho", progress, observer, failures=book,
                            concurrency=DEFAULT_CONCURRENCY, page_buffer=4)
    error, elapsed = await pipeline.execute(Steps(...), dry_run=False)  # fields logged

`docs/syncs.md` walks through the steps and what adding a source takes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Generic, Literal, Protocol, TypeVar

from app.errors import describe, is_permanent
from app.events.ledger import Ledger, LedgerEntry, LedgerStatus
from app.events.model import RawRequest, Source, WebhookEvent
from app.log import get_logger

log = get_logger(__name__)

# Workers writing at once. The Attio client's shared write limiter is what bounds the rate;
# the pool only keeps enough writes in flight to use it despite each call's latency.
DEFAULT_CONCURRENCY = 16
MAX_REPORTED = 100  # the ledger holds every failure; a report shows the first ones
PREVIOUS_FAILURES_LIMIT = 1000  # earlier runs' ledger entries read per status


class Phase(StrEnum):
    reading = "reading"  # loading Attio's records, reading the source, writing what differs
    writing = "writing"  # the source fully read; finishing the writes
    done = "done"
    aborted = "aborted"  # a side could not be read completely (see the run's error)


# -- counts ------------------------------------------------------------------------------------

Outcome = Literal["created", "updated", "unchanged", "deactivated", "failed"]
OUTCOMES: tuple[Outcome, ...] = ("created", "updated", "unchanged", "deactivated", "failed")


@dataclass
class Tally:
    """What happened to the records of one group (a Zoho catalogue, a Braintree object)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0
    failed: int = 0

    def add(self, outcome: Outcome) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    @property
    def writes(self) -> int:
        return self.created + self.updated + self.deactivated

    def as_dict(self, outcomes: Sequence[Outcome] = OUTCOMES) -> dict[str, int]:
        return {name: value for name, value in asdict(self).items() if name in outcomes}

    def line(self, outcomes: Sequence[Outcome] = OUTCOMES) -> str:
        return " ".join(f"{name}={value}" for name, value in self.as_dict(outcomes).items())


@dataclass
class SyncCounts:
    """A run's counts: per group, their total, and the source's own notes (records left alone
    because Attio held newer state, say).

    As a dict (the admin API, the run recorded in Attio): the total's outcomes, then each
    group's, then the notes, so `counts["failed"]` is every source's failed records."""

    groups: dict[str, Tally] = field(default_factory=dict)
    notes: dict[str, int] = field(default_factory=dict)
    outcomes: tuple[Outcome, ...] = OUTCOMES  # those the source can have

    @classmethod
    def of_groups(
        cls,
        groups: Sequence[str] = (),
        *,
        notes: Sequence[str] = (),
        outcomes: tuple[Outcome, ...] = OUTCOMES,
    ) -> SyncCounts:
        """Counts whose groups and notes show (as zero) before anything happened."""
        return cls({name: Tally() for name in groups}, dict.fromkeys(notes, 0), outcomes)

    def of(self, group: str) -> Tally:
        return self.groups.setdefault(group, Tally())

    def add(self, group: str, outcome: Outcome) -> None:
        self.of(group).add(outcome)

    def note(self, name: str) -> None:
        self.notes[name] = self.notes.get(name, 0) + 1

    @property
    def total(self) -> Tally:
        tallies = self.groups.values()
        return Tally(**{name: sum(getattr(t, name) for t in tallies) for name in OUTCOMES})

    @property
    def created(self) -> int:
        return self.total.created

    @property
    def updated(self) -> int:
        return self.total.updated

    @property
    def unchanged(self) -> int:
        return self.total.unchanged

    @property
    def deactivated(self) -> int:
        return self.total.deactivated

    @property
    def failed(self) -> int:
        return self.total.failed

    @property
    def writes(self) -> int:
        return self.total.writes

    def totals(self) -> dict[str, int]:
        return self.total.as_dict(self.outcomes)

    def line(self, group: str | None = None) -> str:
        """The total's outcomes (or a group's) as `name=value` pairs."""
        tally = self.total if group is None else self.of(group)
        return tally.line(self.outcomes)

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.totals(),
            **{name: tally.as_dict(self.outcomes) for name, tally in self.groups.items()},
            **self.notes,
        }


class PipelineProgress(Protocol):
    """What the pipeline updates of a run's live progress (each source's has more)."""

    phase: Phase
    planned: int  # writes decided so far (the total is known once the source is read)
    finished: int  # writes done or failed
    error: str | None
    counts: SyncCounts


# -- reading the source ------------------------------------------------------------------------

L = TypeVar("L")  # what names a listing: a Zoho catalogue, a Braintree object kind
G = TypeVar("G", bound=PipelineProgress)
W = TypeVar("W")  # one record's write, as the engine plans it
R = TypeVar("R")  # a failed record as the engine's report shows it


@dataclass(frozen=True)
class Page(Generic[L]):
    listing: L
    items: list[Any]


@dataclass(frozen=True)
class End(Generic[L]):
    """A listing's last message: `error` is None when it was read to the end."""

    listing: L
    error: BaseException | None = None


Message = Page[L] | End[L]
Listing = tuple[L, Callable[[], AsyncIterator[list[Any]]]]


async def read_listings(
    pages: asyncio.Queue[Message[L]],
    listings: Sequence[Listing[L]],
    *,
    after_error: Literal["stop", "go_on"],
) -> None:
    """Each listing in turn onto `pages`, a page at a time, then its `End`. After a listing
    that failed, the next ones are read (`go_on`) or not (`stop`)."""
    for listing, open_pages in listings:
        try:
            read = open_pages()
            try:
                async for items in read:
                    await pages.put(Page(listing, items))
            finally:
                # A cancelled run also ends the listing's requests still in flight.
                if (close := getattr(read, "aclose", None)) is not None:
                    await close()
        except Exception as exc:
            await pages.put(End(listing, exc))
            if after_error == "stop":
                return
        else:
            await pages.put(End(listing))


# -- failed records ----------------------------------------------------------------------------


class FailureBook(Generic[R]):
    """A run's failed records: the first `MAX_REPORTED` for its report, every one in the ledger,
    and earlier runs' entries settled once their record goes through.

    Entries are grouped by subject (the record the source failed on, whatever the version
    or operation that failed): `subject_of` reads it from a ledger entry. A dry run or a ledger
    replay (`record=False`) reports failures but writes none."""

    def __init__(
        self,
        name: str,
        ledger: Ledger | None,
        *,
        source: Source,
        event_type: str,
        subject_of: Callable[[LedgerEntry], str | None],
        rebuild: Callable[[RawRequest], WebhookEvent],
        record: bool = True,
        failed_event: str = "record_failed",
    ) -> None:
        self._name = name
        self._ledger = ledger if record else None
        self._settling = ledger
        self._source = source
        self._event_type = event_type
        self._subject_of = subject_of
        self._rebuild = rebuild
        self._failed_event = f"{name}.sync.{failed_event}"
        self._previous: dict[str, list[LedgerEntry]] = {}
        self.reported: list[R] = []

    async def load(self) -> None:
        """Earlier runs' failed and dead entries (not for a dry run)."""
        if self._ledger is None:
            return
        try:
            for status in (LedgerStatus.failed, LedgerStatus.dead):
                for entry in await self._ledger.list_entries(
                    status=status,
                    source=self._source,
                    event_type=self._event_type,
                    limit=PREVIOUS_FAILURES_LIMIT,
                ):
                    if subject := self._subject_of(entry):
                        self._previous.setdefault(subject, []).append(entry)
        except Exception as exc:
            log.warning(f"{self._name}.sync.ledger_read_failed", error=describe(exc))

    async def fail(
        self,
        subject: str,
        event: WebhookEvent,
        error: BaseException,
        report: Callable[[str], R],
        **fields: Any,
    ) -> None:
        """Report `error` (`report` builds the entry from its description) and ledger `event`,
        continuing the earlier entry of the same key if there is one."""
        message = describe(error)
        if len(self.reported) < MAX_REPORTED:
            self.reported.append(report(message))
        log.warning(self._failed_event, **fields, error=message)
        if self._ledger is None:
            return
        previous = next(
            (e for e in self._previous.get(subject, ()) if e.event_key == event.event_key), None
        )
        try:
            await self._ledger.record_failure(
                event, message, permanent=is_permanent(error), previous=previous
            )
        except Exception as exc:
            log.error(f"{self._name}.sync.ledger_write_failed", **fields, error=describe(exc))

    async def settle(self, subject: str) -> None:
        """Mark the earlier entries of `subject` replayed: its record went through."""
        if self._settling is None:
            return
        for entry in self._previous.pop(subject, ()):
            try:
                await self._settling.mark_succeeded(self._rebuild(entry.raw), entry)
            except Exception as exc:
                log.warning(
                    f"{self._name}.sync.ledger_settle_failed",
                    event_key=entry.event_key,
                    error=describe(exc),
                )


# -- the run -----------------------------------------------------------------------------------

Enqueue = Callable[[W], Awaitable[None]]


@dataclass(frozen=True)
class Steps(Generic[L, W]):
    """What an engine does in a run; the pipeline decides when."""

    attio_records: str  # what `load` reads, for the abort message ("services", ...)
    # The source onto the queue (a task of its own, cancelled when Attio cannot be read).
    read: Callable[[asyncio.Queue[Message[L]]], Coroutine[Any, Any, None]]
    load: Callable[[], Awaitable[None]]  # Attio's records into the engine's index
    # Every page into ops (each through `Enqueue`); why the run is aborted, or None.
    plan: Callable[[asyncio.Queue[Message[L]], Enqueue[W]], Awaitable[str | None]]
    write: Callable[[W], Awaitable[None]]  # one op (raising counts it as failed)
    failed: Callable[[W, Exception], Awaitable[None]]  # count, report and ledger a failure
    finished: Callable[[W], None] | None = None  # after each op, written or failed


class SyncPipeline(Generic[G]):
    def __init__(
        self,
        name: str,
        progress: G,
        observer: Callable[[G], None] | None,
        *,
        failures: FailureBook[Any],
        concurrency: int,
        page_buffer: int,
    ) -> None:
        self.name = name  # the log events' prefix: `<name>.sync.started`, ...
        self.progress = progress
        self.observer = observer
        self.failures = failures
        self.concurrency = max(1, concurrency)
        self.page_buffer = page_buffer

    def notify(self) -> None:
        if self.observer is not None:
            self.observer(self.progress)

    def source_read(self) -> None:
        """The source has been read: only writes are left."""
        self.progress.phase = Phase.writing
        self.notify()

    async def execute(self, steps: Steps[L, W], **started: Any) -> tuple[str | None, float]:
        """One run: why it was aborted (or None), and how long it took."""
        began = time.perf_counter()
        log.info(f"{self.name}.sync.started", **started)
        self.notify()
        error = await self._steps(steps)
        self.progress.error = error
        self.progress.phase = Phase.aborted if error else Phase.done
        self.notify()
        elapsed = time.perf_counter() - began
        counts = self.progress.counts
        (log.error if error else log.info)(
            f"{self.name}.sync.finished",
            error=error,
            elapsed_seconds=round(elapsed, 2),
            writes=counts.writes,
            **counts.totals(),
        )
        return error, elapsed

    async def _steps(self, steps: Steps[L, W]) -> str | None:
        pages: asyncio.Queue[Message[L]] = asyncio.Queue(maxsize=self.page_buffer)
        work: asyncio.Queue[W | None] = asyncio.Queue(maxsize=self.concurrency * 4)

        async def enqueue(op: W) -> None:
            self.progress.planned += 1
            await work.put(op)

        async with asyncio.TaskGroup() as group:
            reader = group.create_task(steps.read(pages))
            try:
                await steps.load()
            except Exception as exc:
                reader.cancel()
                return f"could not read Attio's {steps.attio_records}: {describe(exc)}"
            await self.failures.load()
            workers = [
                group.create_task(self._worker(work, steps)) for _ in range(self.concurrency)
            ]
            try:
                return await steps.plan(pages, enqueue)
            finally:
                for _ in workers:
                    await work.put(None)

    async def _worker(self, work: asyncio.Queue[W | None], steps: Steps[L, W]) -> None:
        while (op := await work.get()) is not None:
            try:
                await steps.write(op)
            except Exception as exc:
                await steps.failed(op, exc)
            finally:
                if steps.finished is not None:
                    steps.finished(op)
                self.progress.finished += 1
                self.notify()
