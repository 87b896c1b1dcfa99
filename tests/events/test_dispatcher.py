"""The dispatcher: exact event types beat patterns; sources stay apart."""

from __future__ import annotations

from app.events.dispatcher import Dispatcher
from app.events.model import RawRequest, Source, WebhookEvent


def make_event(source: Source, event_type: str) -> WebhookEvent:
    return WebhookEvent(
        source=source, event_type=event_type, event_key="k", raw=RawRequest(body="")
    )


async def test_dispatcher_exact_beats_pattern_and_sources_are_separate() -> None:
    dispatcher = Dispatcher()

    async def exact(_e: WebhookEvent) -> None: ...
    async def pattern(_e: WebhookEvent) -> None: ...

    dispatcher.register(Source.braintree, "subscription_*", pattern)
    dispatcher.register(Source.braintree, "subscription_canceled", exact)
    assert dispatcher.handler_for(make_event(Source.braintree, "subscription_canceled")) is exact
    assert dispatcher.handler_for(make_event(Source.braintree, "subscription_expired")) is pattern
    assert dispatcher.handler_for(make_event(Source.attio, "subscription_expired")) is None
    assert dispatcher.handler_for(make_event(Source.braintree, "check")) is None
