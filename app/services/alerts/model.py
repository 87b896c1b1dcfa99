"""An alert: one check's change of state, told to every configured channel once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from app.clients.attio.values import iso_timestamp

Links = tuple[tuple[str, str], ...]  # (object, record id)
# Links worth their reads only for a task that is created (a ledger entry's payer).
MoreLinks = Callable[[], Awaitable[Links]]


class Severity(StrEnum):
    warning = "warning"
    critical = "critical"


class AlertState(StrEnum):
    firing = "firing"
    resolved = "resolved"


@dataclass(frozen=True)
class Alert:
    id: str  # the notification's id (Standard Webhooks' `webhook-id`): same on every retry
    check: str
    severity: Severity
    state: AlertState
    message: str
    action: str
    first_seen: datetime
    sent_at: datetime
    repeat: bool = False  # a still-critical check, told again after ALERT_REPEAT_HOURS
    details: Mapping[str, Any] = field(default_factory=dict)
    links: Links = ()
    more_links: MoreLinks | None = field(default=None, compare=False, repr=False)

    @property
    def title(self) -> str:
        if self.state is AlertState.resolved:
            return f"[resolved] {self.check}"
        again = " (still)" if self.repeat else ""
        return f"[{self.severity.value}] {self.check}{again}"

    def as_payload(self) -> dict[str, Any]:
        """The JSON body of the signed webhook alert."""
        return {
            "type": "attio-bridge.alert",
            "id": self.id,
            "check": self.check,
            "severity": self.severity.value,
            "state": self.state.value,
            "repeat": self.repeat,
            "message": self.message,
            "action": self.action,
            "first_seen": iso_timestamp(self.first_seen),
            "sent_at": iso_timestamp(self.sent_at),
            "details": dict(self.details),
        }
