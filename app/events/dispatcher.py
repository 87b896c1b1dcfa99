"""Maps (source, event_type) to the service handler that applies the event to Attio."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from fnmatch import fnmatchcase

from app.events.model import Source, WebhookEvent

Handler = Callable[[WebhookEvent], Awaitable[None]]


class Dispatcher:
    """Exact event types win over patterns (`subscription_*`); patterns match in order added."""

    def __init__(self) -> None:
        self._exact: dict[tuple[Source, str], Handler] = {}
        self._patterns: list[tuple[Source, str, Handler]] = []

    def register(self, source: Source, event_type: str, handler: Handler) -> None:
        if any(ch in event_type for ch in "*?["):
            self._patterns.append((source, event_type, handler))
        else:
            self._exact[(source, event_type)] = handler

    def handler_for(self, event: WebhookEvent) -> Handler | None:
        if handler := self._exact.get((event.source, event.event_type)):
            return handler
        for source, pattern, handler in self._patterns:
            if source is event.source and fnmatchcase(event.event_type, pattern):
                return handler
        return None
