"""Inline processing under load: one deadline per delivery, and shedding before any Attio call."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.error_handlers import install_error_handlers
from app.events.admission import Admission, OverloadedError
from app.events.dispatcher import Dispatcher
from app.events.ledger import Ledger, LedgerEntry
from app.events.model import Outcome, RawRequest, Source, WebhookEvent
from app.events.processor import EventProcessor, LedgerUnavailableError
from app.metrics import DELIVERIES_SHED


def event(
    source: Source = Source.braintree, key: str = "k1", kind: str = "charged"
) -> WebhookEvent:
    return WebhookEvent(source=source, event_type=kind, event_key=key, raw=RawRequest(body="{}"))


class FakeLedger:
    """What the processor asks of the ledger; `hang` makes every call wait forever."""

    def __init__(self, *, hang: bool = False) -> None:
        self.hang = hang
        self.failures: list[tuple[str, str]] = []

    async def _maybe_hang(self) -> None:
        if self.hang:
            await asyncio.Event().wait()

    async def get(self, _key: str) -> LedgerEntry | None:
        await self._maybe_hang()
        return None

    async def record_failure(self, event: WebhookEvent, error: str, **_: Any) -> None:
        await self._maybe_hang()
        self.failures.append((event.event_key, error))

    async def is_failed(self, _key: str) -> bool:
        await self._maybe_hang()
        return False


class Handlers:
    def __init__(self, *, hang: bool = False) -> None:
        self.hang = hang
        self.started: list[str] = []
        self.finished: list[str] = []

    async def __call__(self, event: WebhookEvent) -> None:
        self.started.append(event.event_key)
        if self.hang:
            await asyncio.Event().wait()
        self.finished.append(event.event_key)

    def dispatcher(self) -> Dispatcher:
        dispatcher = Dispatcher()
        for source in Source:
            dispatcher.register(source, "*", self)
        return dispatcher


def processor(
    handlers: Handlers,
    ledger: FakeLedger,
    *,
    budget: float = 10.0,
    admission: Admission | None = None,
) -> EventProcessor:
    fake: Any = ledger
    typed: Ledger = fake
    return EventProcessor(handlers.dispatcher(), typed, budget_seconds=budget, admission=admission)


def busy(queued_writes: int, *, in_flight: int = 0, budget: float = 10.0) -> Admission:
    admission = Admission(
        budget_seconds=budget, interval=1 / 24, queued_writes=lambda: queued_writes
    )
    admission.in_flight = in_flight
    return admission


@pytest.mark.parametrize(
    ("queued_writes", "in_flight", "admitted"),
    [
        (0, 0, True),  # idle
        (100, 0, True),  # 4.2 s of writes ahead: inside the 6 s share of a 10 s budget
        (144, 0, True),  # exactly 6 s
        (145, 0, False),  # beyond it
        (0, 48, True),  # 48 deliveries of ~3 writes each: 6 s
        (0, 49, False),
        (60, 30, False),  # both count
    ],
)
def test_admission_from_the_write_backlog(
    queued_writes: int, in_flight: int, admitted: bool
) -> None:
    decision = busy(queued_writes, in_flight=in_flight).decide()
    assert decision.admitted is admitted
    assert decision.retry_after >= 1


async def test_one_deadline_for_the_whole_delivery() -> None:
    handlers, ledger = Handlers(hang=True), FakeLedger()
    result = await processor(handlers, ledger, budget=0.05).process_delivery(
        [event(key="a"), event(key="b"), event(key="c")]
    )
    assert result.outcomes == [Outcome.recorded] * 3
    # The later events got what was left of the one budget (nothing), not a budget each.
    assert handlers.finished == []
    assert [key for key, _ in ledger.failures] == ["a", "b", "c"]


async def test_a_ledger_that_cannot_answer_is_given_up_on_after_the_grace() -> None:
    handlers, ledger = Handlers(hang=True), FakeLedger(hang=True)
    with pytest.raises(LedgerUnavailableError):
        await processor(handlers, ledger, budget=0.01).process_delivery([event()])


async def test_a_delivery_that_cannot_start_in_time_is_refused_before_any_work() -> None:
    handlers, ledger = Handlers(), FakeLedger()
    before = DELIVERIES_SHED.labels("braintree")._value.get()
    with pytest.raises(OverloadedError) as raised:
        await processor(handlers, ledger, admission=busy(1000)).process_delivery([event()])
    assert raised.value.status_code == 503
    assert raised.value.retry_after >= 41  # 1,000 writes at 24/s
    assert handlers.started == [] and ledger.failures == []
    assert DELIVERIES_SHED.labels("braintree")._value.get() == before + 1


async def test_a_zoho_delivery_that_cannot_start_in_time_is_recorded_instead() -> None:
    handlers, ledger = Handlers(), FakeLedger()
    result = await processor(handlers, ledger, admission=busy(1000)).process_delivery(
        [event(Source.zoho, key="z1")]
    )
    assert result.outcomes == [Outcome.recorded]
    assert handlers.started == []
    assert ledger.failures and ledger.failures[0][0] == "z1"
    assert "deferred" in ledger.failures[0][1]


async def test_an_admitted_delivery_counts_while_in_flight() -> None:
    ledger = FakeLedger()
    admission = busy(0)
    seen: list[int] = []

    async def handler(_event: WebhookEvent) -> None:
        seen.append(admission.in_flight)

    dispatcher = Dispatcher()
    dispatcher.register(Source.braintree, "*", handler)
    fake: Any = ledger
    await EventProcessor(dispatcher, fake, admission=admission).process_delivery([event()])
    assert seen == [1]
    assert admission.in_flight == 0


def test_a_refusal_carries_retry_after() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/hook")
    async def hook() -> None:
        raise OverloadedError("busy", retry_after=7)

    response = TestClient(app).post("/hook")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "7"
    assert response.json()["error"] == "overloaded"
