"""The shared sync pipeline, driven by a toy source: what any engine gets from it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from app.errors import MalformedPayloadError
from app.events.model import RawRequest, Source, WebhookEvent
from app.services.syncpipeline import (
    End,
    Enqueue,
    FailureBook,
    Listing,
    Message,
    Page,
    Phase,
    Steps,
    SyncCounts,
    SyncPipeline,
    read_listings,
)


@dataclass
class Progress:
    phase: Phase = Phase.reading
    planned: int = 0
    finished: int = 0
    error: str | None = None
    counts: SyncCounts = field(default_factory=SyncCounts)


def event(key: str) -> WebhookEvent:
    return WebhookEvent(
        source=Source.zoho, event_type="toy", event_key=key, raw=RawRequest(body=key, path="/")
    )


class FakeLedger:
    """What the pipeline asks of the ledger, remembered."""

    def __init__(self, *entries: Any) -> None:
        self.entries = list(entries)
        self.recorded: list[tuple[str, bool, Any]] = []
        self.settled: list[str] = []

    async def list_entries(self, **_query: Any) -> list[Any]:
        return [e for e in self.entries if e.status == _query["status"]]

    async def record_failure(
        self, event: WebhookEvent, _error: str, *, permanent: bool, previous: Any
    ) -> None:
        self.recorded.append((event.event_key, permanent, previous))

    async def mark_succeeded(self, event: WebhookEvent, _entry: Any) -> None:
        self.settled.append(event.event_key)


def entry(key: str, status: str = "failed") -> Any:
    return SimpleNamespace(event_key=key, status=status, raw=RawRequest(body=key, path="/"))


def book(ledger: Any = None, *, record: bool = True) -> FailureBook[str]:
    return FailureBook(
        "toy",
        ledger,
        source=Source.zoho,
        event_type="toy",
        subject_of=lambda e: e.event_key.split(":")[0],
        rebuild=lambda raw: event(raw.body_bytes.decode()),
        record=record,
    )


async def pages_of(*pages: list[Any], fail: Exception | None = None) -> AsyncIterator[list[Any]]:
    for page in pages:
        yield page
    if fail is not None:
        raise fail


class Toy:
    """A source of numbers: an even one is in step already, 13 cannot be written."""

    def __init__(self, *, attio_error: Exception | None = None) -> None:
        self.attio_error = attio_error
        self.written: list[int] = []
        self.settled_ops: list[int] = []
        self.progress = Progress()
        self.failures = book()
        self.pipeline = SyncPipeline(
            "toy", self.progress, None, failures=self.failures, concurrency=3, page_buffer=1
        )

    def steps(self, *listings: Listing[str]) -> Steps[str, int]:
        async def read(pages: asyncio.Queue[Message[str]]) -> None:
            await read_listings(pages, listings, after_error="go_on")

        async def load() -> None:
            if self.attio_error is not None:
                raise self.attio_error

        async def plan(pages: asyncio.Queue[Message[str]], enqueue: Enqueue[int]) -> str | None:
            ended, errors = 0, []
            while ended < len(listings):
                message = await pages.get()
                if isinstance(message, End):
                    ended += 1
                    if message.error is not None:
                        errors.append(f"{message.listing}: {message.error}")
                    continue
                for number in message.items:
                    if number % 2 == 0:
                        self.progress.counts.add(message.listing, "unchanged")
                    else:
                        await enqueue(number)
            self.pipeline.source_read()
            return "; ".join(errors) or None

        async def write(number: int) -> None:
            if number == 13:
                raise MalformedPayloadError("thirteen")
            self.written.append(number)
            self.progress.counts.add("odd", "created")

        async def failed(number: int, error: Exception) -> None:
            self.progress.counts.add("odd", "failed")
            await self.failures.fail(str(number), event(f"{number}:v1"), error, lambda m: m)

        return Steps(
            attio_records="numbers",
            read=read,
            load=load,
            plan=plan,
            write=write,
            failed=failed,
            finished=self.settled_ops.append,
        )


async def test_a_run_plans_writes_and_counts_every_record() -> None:
    toy = Toy()
    listings: list[Listing[str]] = [
        ("low", lambda: pages_of([1, 2, 3], [4, 5])),
        ("high", lambda: pages_of([13, 14, 15])),
    ]
    error, elapsed = await toy.pipeline.execute(toy.steps(*listings))

    assert error is None and elapsed >= 0
    assert sorted(toy.written) == [1, 3, 5, 15]
    assert sorted(toy.settled_ops) == [1, 3, 5, 13, 15]  # after each op, written or failed
    progress = toy.progress
    assert progress.phase is Phase.done
    assert progress.planned == progress.finished == 5
    assert progress.counts.as_dict() == {
        "created": 4,
        "updated": 0,
        "unchanged": 3,
        "deactivated": 0,
        "failed": 1,
        "low": {"created": 0, "updated": 0, "unchanged": 2, "deactivated": 0, "failed": 0},
        "high": {"created": 0, "updated": 0, "unchanged": 1, "deactivated": 0, "failed": 0},
        "odd": {"created": 4, "updated": 0, "unchanged": 0, "deactivated": 0, "failed": 1},
    }
    assert toy.failures.reported == ["MalformedPayloadError: thirteen"]


async def test_a_listing_that_fails_is_the_engines_to_judge() -> None:
    toy = Toy()
    listings: list[Listing[str]] = [
        ("low", lambda: pages_of([1], fail=RuntimeError("gone"))),
        ("high", lambda: pages_of([3])),
    ]
    error, _ = await toy.pipeline.execute(toy.steps(*listings))
    assert error == "low: gone"
    assert toy.progress.phase is Phase.aborted and toy.progress.error == error
    assert sorted(toy.written) == [1, 3]  # the next listing was still read (go_on)


async def test_attio_unreadable_aborts_before_any_write() -> None:
    toy = Toy(attio_error=RuntimeError("503"))
    listings: list[Listing[str]] = [("low", lambda: pages_of([1, 3]))]
    error, _ = await toy.pipeline.execute(toy.steps(*listings))
    assert error == "could not read Attio's numbers: RuntimeError: 503"
    assert toy.written == [] and toy.progress.phase is Phase.aborted


@pytest.mark.parametrize(("after_error", "listed"), [("stop", ["a"]), ("go_on", ["a", "b"])])
async def test_read_listings_after_a_failed_listing(after_error: Any, listed: list[str]) -> None:
    queue: asyncio.Queue[Message[str]] = asyncio.Queue()
    failing: Listing[str] = ("a", lambda: pages_of([1], fail=RuntimeError("x")))
    await read_listings(queue, [failing, ("b", lambda: pages_of([2]))], after_error=after_error)
    messages = [queue.get_nowait() for _ in range(queue.qsize())]
    assert messages[0] == Page("a", [1])
    ends = [m for m in messages if isinstance(m, End)]
    assert [m.listing for m in ends] == listed
    assert isinstance(ends[0].error, RuntimeError)


def test_counts_show_their_groups_notes_and_only_the_sources_outcomes() -> None:
    counts = SyncCounts.of_groups(
        ("subscription", "person"), notes=("stale",), outcomes=("created", "failed")
    )
    counts.add("subscription", "created")
    counts.of("person").failed += 1
    counts.note("stale")
    assert counts.as_dict() == {
        "created": 1,
        "failed": 1,
        "subscription": {"created": 1, "failed": 0},
        "person": {"created": 0, "failed": 1},
        "stale": 1,
    }
    assert (counts.writes, counts.failed) == (1, 1)
    assert counts.line() == "created=1 failed=1"
    assert counts.line("person") == "created=0 failed=1"


async def test_failures_continue_earlier_entries_and_settle_them_when_the_record_goes_through() -> (
    None
):
    earlier = entry("7:v1")
    ledger = FakeLedger(earlier, entry("7:v0", "dead"), entry("8:v1"))
    failures = book(ledger)
    await failures.load()

    await failures.fail("7", event("7:v1"), MalformedPayloadError("bad"), lambda m: m)
    await failures.fail("9", event("9:v1"), RuntimeError("flaky"), lambda m: m)
    assert ledger.recorded == [("7:v1", True, earlier), ("9:v1", False, None)]

    await failures.settle("7")
    await failures.settle("7")  # once only
    assert sorted(ledger.settled) == ["7:v0", "7:v1"]


async def test_a_dry_run_reports_failures_but_writes_no_ledger_record() -> None:
    ledger = FakeLedger(entry("7:v1"))
    failures = book(ledger, record=False)
    await failures.load()
    await failures.fail("7", event("7:v1"), RuntimeError("x"), lambda m: m)
    assert failures.reported == ["RuntimeError: x"]
    assert ledger.recorded == [] and ledger.settled == []
