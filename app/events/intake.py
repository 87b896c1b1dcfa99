"""Intake: what happens to one webhook delivery once its route has read the raw request.

The source verifies and parses it; then the dispatcher is asked, once per event, which events
have work. In queue mode a delivery with work is appended to the stream as received (the worker
verifies and parses it again) and answered at once; anything else (inline mode, Redis out of
reach, only echoes and unhandled types) is processed before the answer, with the handlers
already found.
"""

from __future__ import annotations

import asyncio

from app.errors import BadRequestError, SignatureError
from app.events.delivery_counts import DELIVERIES
from app.events.model import RawRequest
from app.events.processor import NO_REDELIVERY, EventProcessor
from app.events.queue import EventQueue, QueueFullError, QueueUnavailableError
from app.events.sources import EventSource
from app.log import get_logger
from app.metrics import REJECTED_REQUESTS, SIGNATURE_FAILURES

log = get_logger(__name__)


async def receive(
    source: EventSource,
    raw: RawRequest,
    *,
    processor: EventProcessor,
    queue: EventQueue | None,
    channel: str | None = None,
) -> dict[str, int]:
    """The answer to one delivery: `{"events": n, "queued": n}` when queued, else the count of
    each outcome. `channel` names the source for the worker (default: the provider's name).

    Raises the source's `SignatureError` (401) or `BadRequestError` (400), and what the processor
    raises when an event can be neither done nor recorded, or the work cannot start in time.
    """
    name = source.source.value
    try:
        events = await source.events_from(raw)
    except SignatureError:
        SIGNATURE_FAILURES.labels(name).inc()
        log.warning("webhook.signature_invalid", source=name)
        raise
    except BadRequestError as exc:
        REJECTED_REQUESTS.labels(name, str(exc.status_code)).inc()
        log.warning("webhook.malformed", source=name, error=exc.message)
        raise
    DELIVERIES.verified(source.source)
    started = asyncio.get_running_loop().time()
    if processor.deliveries is not None:
        processor.deliveries.note(source.source)  # verified, queued or not: not silent
    handlers = [processor.handler_for(event) for event in events]
    if queue is not None and any(handler is not None for handler in handlers):
        try:
            # The raw request, not the events: the worker verifies and parses it again.
            await queue.enqueue(channel or name, raw)
        except QueueUnavailableError:
            pass  # Redis is unreachable: processed inline below (the queue logs the change)
        except QueueFullError:
            if source.source not in NO_REDELIVERY:
                raise  # 503 + Retry-After: the sender retries
            # Zoho never redelivers: the ledger keeps the events for the retry job.
            return (await processor.defer(events, "the queue was full")).as_response()
        else:
            return {"events": len(events), "queued": len(events)}
    result = await processor.process_delivery(events, started=started, handlers=handlers)
    return result.as_response()
