"""The processing contract: handle inline within a time budget, or make the event the ledger's.

- success: the effect is in Attio (a previously failed event's record becomes `replayed`);
- failure: the event is written to `bridge_events` (failed, or dead when it cannot succeed)
  and the sender still gets a 2xx, because the event is now safely ours;
- if even that write fails: `LedgerUnavailableError` (503) so the sender redelivers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TypeVar

import structlog

from app.clients.attio import (
    AttioError,
    ahead_of_the_queue,
)
from app.errors import BridgeError, ServiceUnavailableError, describe, is_permanent
from app.events.admission import Admission, OverloadedError
from app.events.deliveries import DeliveryClock
from app.events.delivery_counts import DELIVERIES
from app.events.dispatcher import Dispatcher, Handler
from app.events.ledger import Ledger, LedgerEntry
from app.events.model import Outcome, Source, WebhookEvent
from app.log import get_logger
from app.metrics import DELIVERIES_SHED, EVENTS

log = get_logger(__name__)
T = TypeVar("T")

# After the delivery's processing budget, this long is left for its ledger writes, so that no
# delivery is answered later than the budget plus this.
LEDGER_GRACE_SECONDS = 1.0
# Senders that document no redelivery: a delivery we cannot process in time is recorded in the
# ledger (retried from there), never refused.
NO_REDELIVERY = frozenset({Source.zoho})


# The deadline (event loop time) of the delivery being processed, if any: a replay or a retry
# job has none and gives each event the budget.
_DEADLINE: ContextVar[float | None] = ContextVar("delivery_deadline", default=None)


class _Deferred(BridgeError):
    """Why a delivery from a sender without redelivery went to the ledger unprocessed."""


_BUDGET_TAKEN = "the Attio write budget was taken"


class LedgerUnavailableError(ServiceUnavailableError):
    code = "ledger_unavailable"


@dataclass
class DeliveryResult:
    outcomes: list[Outcome] = field(default_factory=list)

    def as_response(self) -> dict[str, int]:
        counts = {outcome.value: 0 for outcome in Outcome}
        for outcome in self.outcomes:
            counts[outcome.value] += 1
        return {"events": len(self.outcomes), **counts}


class EventProcessor:
    def __init__(
        self,
        dispatcher: Dispatcher,
        ledger: Ledger,
        *,
        budget_seconds: float = 10.0,
        ledger_timeout_seconds: float = 10.0,
        admission: Admission | None = None,
        deliveries: DeliveryClock | None = None,
    ) -> None:
        self.dispatcher = dispatcher
        self.deliveries = deliveries  # when each source last delivered (`watch` silence)
        self.ledger = ledger
        self.admission = admission
        self._budget = budget_seconds
        self._ledger_timeout = ledger_timeout_seconds

    def handler_for(self, event: WebhookEvent) -> Handler | None:
        """What applies the event, or None when it is ignored (an echo, an unhandled type)."""
        return None if event.ignore_reason else self.dispatcher.handler_for(event)

    async def process_delivery(
        self,
        events: Sequence[WebhookEvent],
        *,
        admit: bool = True,
        started: float | None = None,
        handlers: Sequence[Handler | None] | None = None,
    ) -> DeliveryResult:
        """Every event of one request, in order, all within one budget; raises if one can be
        neither done nor recorded, or (503 with Retry-After) when the work cannot start in time.

        `started` (the event loop's clock) is when the request arrived: the budget counts from
        then, so time the request already spent elsewhere (waiting for the queue) is part of it.
        `admit=False` takes the work whatever the backlog (a queue worker must). `handlers` is
        `handler_for` of each event when the caller has already asked (the intake has).
        """
        if handlers is None:
            handlers = [self.handler_for(event) for event in events]
        if self.admission is None or not admit or not events:
            return await self._within_deadline(events, handlers, started)
        decision = self.admission.decide()
        if decision.admitted:
            with self.admission.admitted():
                return await self._within_deadline(events, handlers, started)
        source = events[0].source
        DELIVERIES_SHED.labels(source.value).inc()
        if source in NO_REDELIVERY:
            log.warning("delivery.deferred", source=source.value, wait_s=decision.wait_seconds)
            return await self.defer(events)
        log.warning("delivery.shed", source=source.value, wait_s=decision.wait_seconds)
        raise OverloadedError(
            "The Attio write budget is taken for the next seconds; retry the delivery later.",
            retry_after=decision.retry_after,
        )

    async def _within_deadline(
        self,
        events: Sequence[WebhookEvent],
        handlers: Sequence[Handler | None],
        started: float | None = None,
    ) -> DeliveryResult:
        loop = asyncio.get_running_loop()
        token = _DEADLINE.set((loop.time() if started is None else started) + self._budget)
        try:
            result = DeliveryResult()
            for event, handler in zip(events, handlers, strict=True):
                result.outcomes.append(await self._apply(event, handler, None))
            return result
        finally:
            _DEADLINE.reset(token)

    async def defer(
        self, events: Sequence[WebhookEvent], why: str = _BUDGET_TAKEN
    ) -> DeliveryResult:
        """Record every event in the ledger (no processing): the retry job applies them. For a
        sender that never redelivers, in place of a refusal."""
        deferred = _Deferred(f"deferred: {why}; applied by the retry job")
        token = _DEADLINE.set(asyncio.get_running_loop().time())
        try:
            result = DeliveryResult()
            for event in events:
                with structlog.contextvars.bound_contextvars(**event.log_fields()):
                    EVENTS.labels(event.source.value, event.event_type, "received").inc()
                    result.outcomes.append(
                        await self._record_failure(event, deferred, previous=None)
                    )
            return result
        finally:
            _DEADLINE.reset(token)

    async def process(self, event: WebhookEvent, *, previous: LedgerEntry | None = None) -> Outcome:
        """Apply one event. `previous` is its ledger entry when this is a replay."""
        return await self._apply(event, self.handler_for(event), previous)

    async def _apply(
        self, event: WebhookEvent, handler: Handler | None, previous: LedgerEntry | None
    ) -> Outcome:
        # Every line logged while this event is handled (Attio calls included) names it.
        with structlog.contextvars.bound_contextvars(**event.log_fields()):
            return DELIVERIES.outcome(event.source, await self._process(event, handler, previous))

    def _work_timeout(self) -> asyncio.Timeout:
        deadline = _DEADLINE.get()
        if deadline is None:
            return asyncio.timeout(self._budget)
        return asyncio.timeout_at(deadline)

    def _ledger_timeout_cm(self) -> asyncio.Timeout:
        deadline = _DEADLINE.get()
        if deadline is None:
            return asyncio.timeout(self._ledger_timeout)
        return asyncio.timeout_at(deadline + LEDGER_GRACE_SECONDS)

    async def _process(
        self, event: WebhookEvent, handler: Handler | None, previous: LedgerEntry | None
    ) -> Outcome:
        EVENTS.labels(event.source.value, event.event_type, "received").inc()
        if handler is None:
            reason = event.ignore_reason or "no handler for this event type"
            log.info("event.ignored", reason=reason)
            EVENTS.labels(event.source.value, event.event_type, "ignored").inc()
            if previous is not None:
                await self._ledger_write(self.ledger.mark_succeeded(event, previous))
            return Outcome.ignored
        try:
            async with self._work_timeout():
                await handler(event)
        except Exception as exc:
            return await self._record_failure(event, exc, previous)
        log.info("event.processed")
        EVENTS.labels(event.source.value, event.event_type, "processed").inc()
        if previous is not None or await self._known_failed(event):
            await self._ledger_write(self.ledger.mark_succeeded(event, previous))
        return Outcome.processed

    async def record_failure(self, event: WebhookEvent, error: Exception) -> Outcome:
        """Put an event in the ledger as failed without handling it (its queue entry gave up)."""
        with structlog.contextvars.bound_contextvars(**event.log_fields()):
            return await self._record_failure(event, error, None)

    async def _record_failure(
        self, event: WebhookEvent, error: Exception, previous: LedgerEntry | None
    ) -> Outcome:
        permanent = is_permanent(error)
        log.warning(
            "event.failed",
            error=describe(error),
            permanent=permanent,
            exc_info=not isinstance(error, BridgeError | TimeoutError),
        )
        EVENTS.labels(event.source.value, event.event_type, "failed").inc()
        if previous is None:
            # A redelivery of an event we already hold keeps counting its attempts.
            previous = await self._ledger_write(self.ledger.get(event.event_key))
        await self._ledger_write(
            self.ledger.record_failure(
                event, describe(error), permanent=permanent, previous=previous
            )
        )
        return Outcome.recorded

    async def _known_failed(self, event: WebhookEvent) -> bool:
        try:
            with ahead_of_the_queue():
                async with self._ledger_timeout_cm():
                    return await self.ledger.is_failed(event.event_key)
        except (AttioError, TimeoutError) as exc:
            # The effect is written; a missed ledger update is settled later by retry-due.
            log.warning("ledger.lookup_failed", error=describe(exc))
            return False

    async def _ledger_write(self, operation: Awaitable[T]) -> T:
        try:
            # The ledger write is what keeps the event; it must not queue behind other events.
            with ahead_of_the_queue():
                async with self._ledger_timeout_cm():
                    return await operation
        except Exception as exc:
            log.error("ledger.write_failed", error=describe(exc))
            raise LedgerUnavailableError(
                "The event could not be processed or recorded; retry the delivery later."
            ) from exc
