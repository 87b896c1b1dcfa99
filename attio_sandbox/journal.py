"""The event journal: every record mutation, in order, as Attio would announce it by webhook.

Entries carry only identifiers and the actor, exactly what an Attio `record.*` event carries, so
turning them into webhook deliveries needs no access to the store. Listeners are called
synchronously inside the mutation, which keeps the journal order equal to the mutation order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from attio_sandbox.actors import Actor

EventType = Literal["record.created", "record.updated", "record.deleted", "record.merged"]
Listener = Callable[["JournalEvent"], None]


@dataclass(frozen=True, slots=True)
class JournalEvent:
    seq: int
    event_type: EventType
    workspace_id: str
    object_id: str
    record_id: str
    # Set on `record.updated` only: one event per changed attribute, as Attio sends them.
    attribute_id: str | None
    actor: Actor
    # Set on `record.merged` only: the record merged into `record_id`.
    duplicate_object_id: str | None = None
    duplicate_record_id: str | None = None

    def webhook_event(self) -> dict[str, Any]:
        """The event as it appears in an Attio webhook delivery's `events` array."""
        ids: dict[str, str] = {
            "workspace_id": self.workspace_id,
            "object_id": self.object_id,
            "record_id": self.record_id,
        }
        if self.attribute_id is not None:
            ids["attribute_id"] = self.attribute_id
        event: dict[str, Any] = {"event_type": self.event_type, "id": ids}
        if self.event_type == "record.merged":
            # Key order as in Attio's published example.
            event["duplicate_object_id"] = self.duplicate_object_id
            event["duplicate_record_id"] = self.duplicate_record_id
        event["actor"] = dict(self.actor)
        return event


class Journal:
    def __init__(self) -> None:
        self.events: list[JournalEvent] = []
        self._listeners: list[Listener] = []

    def append(
        self,
        event_type: EventType,
        *,
        workspace_id: str,
        object_id: str,
        record_id: str,
        actor: Actor,
        attribute_id: str | None = None,
        duplicate_object_id: str | None = None,
        duplicate_record_id: str | None = None,
    ) -> JournalEvent:
        event = JournalEvent(
            seq=len(self.events) + 1,
            event_type=event_type,
            workspace_id=workspace_id,
            object_id=object_id,
            record_id=record_id,
            attribute_id=attribute_id,
            actor=actor,
            duplicate_object_id=duplicate_object_id,
            duplicate_record_id=duplicate_record_id,
        )
        self.events.append(event)
        for listener in list(self._listeners):
            listener(event)
        return event

    def since(self, seq: int) -> list[JournalEvent]:
        """Events after sequence number `seq` (0 for all)."""
        return self.events[seq:]

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` for every future event; returns the function that unsubscribes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def clear(self) -> None:
        self.events.clear()
