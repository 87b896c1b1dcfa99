"""A queued delivery as the stream holds it, what the queue reports about itself, its errors."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from app.errors import ServiceUnavailableError
from app.events.model import RawRequest

STREAM = "attio-bridge:events"
GROUP = "attio-bridge-workers"
# Counters every process adds to (reclaimed, given up), for GET /admin/queue.
STATS_KEY = "attio-bridge:events:stats"

# The channel of a live delivery is its source's name, or this for Zoho CRM notifications
# (a different source under the same provider); a replay names the ledger record instead.
ZOHO_CRM_CHANNEL = "zoho_crm"
REPLAY_CHANNEL = "replay"


@dataclass(frozen=True)
class QueuedDelivery:
    entry_id: str
    channel: str
    raw: RawRequest
    received_at: datetime | None
    event_key: str | None = None  # a replay of this ledger record
    times_delivered: int = 1
    # The append's token (a voided token means: processed inline, skip) and dedupe key.
    token: str = ""
    dedupe: str = ""
    # A replay: the ledger record's state when it was queued ("status:attempts").
    ledger_state: str | None = None
    # Why the entry could not be decoded (it is then recorded as dead, never processed).
    defect: str | None = None

    def fields(self) -> dict[str, str]:
        values = {
            "channel": self.channel,
            "body": self.raw.body,
            "headers": self.raw.headers_json(),
            "query": self.raw.query,
            "path": self.raw.path,
            "received_at": (self.received_at or datetime.now(UTC)).isoformat(),
        }
        optional = {
            "event_key": self.event_key,
            "token": self.token,
            "dedupe": self.dedupe,
            "ledger_state": self.ledger_state,
        }
        values.update({key: value for key, value in optional.items() if value})
        return values

    def with_times_delivered(self, times: int) -> QueuedDelivery:
        return replace(self, times_delivered=times)

    @classmethod
    def from_entry(cls, entry_id: bytes | str, fields: dict[bytes, bytes]) -> QueuedDelivery:
        """The entry; one that does not decode comes back with `defect` set and what could be
        read of it, never as an exception (any error, a RecursionError included)."""
        try:
            return cls._decode(entry_id, fields)
        except Exception as exc:
            text = {
                _text(key): value.decode("utf-8", "replace") if isinstance(value, bytes) else ""
                for key, value in fields.items()
            }
            channel = text.get("channel", "")
            return cls(
                entry_id=_text(entry_id),
                channel=channel,
                raw=RawRequest(body=text.get("body", ""), headers={}),
                received_at=None,
                token=text.get("token", ""),
                dedupe=text.get("dedupe", ""),
                defect=type(exc).__name__,
            )

    @classmethod
    def _decode(cls, entry_id: bytes | str, fields: dict[bytes, bytes]) -> QueuedDelivery:
        text = {key.decode(): value.decode("utf-8") for key, value in fields.items()}
        received = text.get("received_at")
        headers = json.loads(text.get("headers") or "{}")
        if not isinstance(headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
        ):
            raise ValueError("headers are not a JSON object of strings")
        return cls(
            entry_id=_text(entry_id),
            channel=text.get("channel", ""),
            raw=RawRequest(
                body=text.get("body", ""),
                headers=headers,
                query=text.get("query", ""),
                path=text.get("path", ""),
            ),
            received_at=datetime.fromisoformat(received) if received else None,
            event_key=text.get("event_key"),
            token=text.get("token", ""),
            dedupe=text.get("dedupe", ""),
            ledger_state=text.get("ledger_state"),
        )


@dataclass(frozen=True)
class ConsumerInfo:
    name: str
    pending: int
    idle_seconds: float


@dataclass
class QueueStats:
    depth: int = 0
    pending: int = 0
    unread: int = 0
    oldest_age_seconds: float = 0.0
    consumers: list[ConsumerInfo] = field(default_factory=list)
    reclaimed: int = 0
    given_up: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "depth": self.depth,
            "pending": self.pending,
            "unread": self.unread,
            "oldest_age_seconds": round(self.oldest_age_seconds, 3),
            "consumers": [
                {"name": c.name, "pending": c.pending, "idle_seconds": round(c.idle_seconds, 3)}
                for c in self.consumers
            ],
            "reclaimed": self.reclaimed,
            "given_up": self.given_up,
        }


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _id_ms(entry_id: str) -> int:
    return int(entry_id.split("-", 1)[0])


def _next_id(entry_id: str) -> str:
    ms, _, seq = entry_id.partition("-")
    return f"{ms}-{int(seq or 0) + 1}"


# Tells a sender refused by a full stream when to come back.
FULL_RETRY_AFTER_SECONDS = 30


class QueueUnavailableError(ServiceUnavailableError):
    code = "queue_unavailable"


class QueueFullError(ServiceUnavailableError):
    """The stream holds QUEUE_MAX_LENGTH entries: the sender retries later."""

    code = "queue_full"

    def __init__(self, message: str, *, retry_after: int = FULL_RETRY_AFTER_SECONDS) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class QueueMode(StrEnum):
    inline = "inline"  # no REDIS_URL: every delivery is processed before it is answered
    queue = "queue"  # deliveries are appended to the stream and answered at once
    fallback_inline = "fallback_inline"  # REDIS_URL set but Redis unreachable: inline for now
